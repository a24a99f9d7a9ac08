"""Checks on raw instruction text before it reaches the encoder.

An instruction is refused, with the reason, when it is empty, longer than MAX_CHARS,
contains control or invisible formatting characters, or has no letters at all (noise,
digits, symbols). Everything else is left to the grounding confidence.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 1024
_ALLOWED_WHITESPACE = {"\t", "\n", "\r"}
# Unicode categories refused: control, format (zero-width, bidi overrides), surrogate,
# private use, unassigned.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_SPACES = re.compile(r"\s+")


def rejection_reason(text: object) -> str | None:
    """Why `text` cannot be an instruction, or None when it may be grounded."""
    if not isinstance(text, str):
        return f"instruction must be text, got {type(text).__name__}"
    if len(text) > MAX_CHARS:
        return f"instruction is {len(text)} characters long; at most {MAX_CHARS} are accepted"
    for position, char in enumerate(text):
        if char in _ALLOWED_WHITESPACE:
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return (
                f"instruction contains control character U+{ord(char):04X} at position {position}"
            )
    if not text.strip():
        return "instruction is empty"
    if not any(c.isalpha() for c in text):
        return "instruction has no words (no letters)"
    return None


def normalise(text: str) -> str:
    """Whitespace collapsed and trimmed: the form that is embedded and stored as a goal."""
    return _SPACES.sub(" ", text).strip()
