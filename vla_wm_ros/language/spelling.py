"""Typo repair against the task suite's own vocabulary.

Sentence encoders split a misspelt word ("drawr") into unrelated word pieces, which
moves the sentence away from its task. A word is replaced only when it is neither in the
suite's vocabulary nor a word the tokenizer knows, and a suite word lies within a small
Damerau-Levenshtein distance (1 for words up to 7 letters, 2 beyond). Ties go to the word
used more often in the suite. Unknown words with no close suite word are left alone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_TOKEN = re.compile(r"[a-z]+|[^a-z]+")
_WORD = re.compile(r"[a-z]+")


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours).

    Returns limit + 1 as soon as the distance is known to exceed `limit`.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


class Speller:
    """Repairs typos in lower-cased text using the vocabulary of `sentences`."""

    def __init__(self, sentences: Iterable[str], known_words: frozenset[str] = frozenset()):
        self.vocabulary = Counter(w for s in sentences for w in _WORD.findall(s.lower()))
        self.known_words = known_words

    def _repair(self, word: str) -> str:
        if word in self.vocabulary or word in self.known_words:
            return word
        limit = 1 if len(word) <= 7 else 2
        best: tuple[int, int, str] | None = None
        for candidate, count in self.vocabulary.items():
            d = edit_distance(word, candidate, limit)
            if d <= limit:
                key = (d, -count, candidate)
                if best is None or key < best:
                    best = key
        return best[2] if best else word

    def correct(self, text: str) -> str:
        return "".join(
            self._repair(tok) if tok.isalpha() else tok for tok in _TOKEN.findall(text.lower())
        )
