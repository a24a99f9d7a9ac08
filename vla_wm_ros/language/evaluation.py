"""Honest grounding accuracy: every paraphrase is grounded by a Grounder built without it.

The suite's sentences are split into folds stratified by task (fold f holds the f-th
held-out sentence of each task, in a seeded order); a Grounder is built from the other
folds (probe, prototypes and speller vocabulary all exclude the held-out sentences) and
grounds each held-out sentence. With `folds=None` every sentence is its own fold
(leave-one-out). Negatives are grounded by a Grounder built from the whole suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_wm_ros.language.encoder import SentenceEncoder
from vla_wm_ros.language.grounding import Grounder, GrounderConfig
from vla_wm_ros.language.suite import TaskSuite
from vla_wm_ros.language.text_check import normalise


def grounded_correctly(expected: str | None, task: str | None, accepted: bool) -> bool:
    """The one scoring rule: a negative (expected None) must be refused, anything else
    accepted as the expected task."""
    if expected is None:
        return not accepted
    return accepted and task == expected


@dataclass
class Outcome:
    text: str
    expected: str | None  # None for a negative
    task: str | None
    accepted: bool
    confidence: float
    similarity: float
    reason: str

    @property
    def correct(self) -> bool:
        return grounded_correctly(self.expected, self.task, self.accepted)


@dataclass
class GroundingReport:
    folds: int
    positives: list[Outcome] = field(default_factory=list)
    negatives: list[Outcome] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Accepted and grounded to the right task, over all held-out paraphrases."""
        return float(np.mean([o.correct for o in self.positives]))

    @property
    def wrong_accepts(self) -> list[Outcome]:
        return [o for o in self.positives if o.accepted and o.task != o.expected]

    @property
    def rejected(self) -> list[Outcome]:
        return [o for o in self.positives if not o.accepted]

    @property
    def negative_rejection(self) -> float:
        return float(np.mean([o.correct for o in self.negatives])) if self.negatives else 1.0

    def per_task(self) -> dict[str, float]:
        tasks = sorted({o.expected for o in self.positives if o.expected})
        return {
            t: float(np.mean([o.correct for o in self.positives if o.expected == t])) for t in tasks
        }

    def summary(self) -> dict:
        return {
            "folds": self.folds,
            "paraphrases": len(self.positives),
            "accuracy": round(self.accuracy, 4),
            "wrong_accepts": len(self.wrong_accepts),
            "rejected": len(self.rejected),
            "per_task": {k: round(v, 4) for k, v in self.per_task().items()},
            "negatives": len(self.negatives),
            "negative_rejection": round(self.negative_rejection, 4),
            "max_negative_similarity": round(
                max((o.similarity for o in self.negatives), default=0.0), 4
            ),
            "min_positive_similarity": round(min(o.similarity for o in self.positives), 4),
            "errors": [
                {"text": o.text, "expected": o.expected, "got": o.task, "reason": o.reason}
                for o in self.positives + self.negatives
                if not o.correct
            ],
        }


def _outcome(grounder: Grounder, text: str, expected: str | None) -> Outcome:
    g = grounder.ground(text)
    return Outcome(text, expected, g.task, g.accepted, g.confidence, g.similarity, g.reason)


def fold_of(labels: np.ndarray, folds: int | None, seed: int) -> np.ndarray:
    """Fold number of each sentence, stratified by task label."""
    if folds is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        fold[idx] = np.arange(len(idx)) % folds
    return fold


def evaluate(
    suite: TaskSuite,
    encoder: SentenceEncoder,
    config: GrounderConfig | None = None,
    folds: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> GroundingReport:
    """Cross-validated grounding accuracy on the suite's paraphrases + negatives rejection."""
    from tqdm import tqdm

    config = config or GrounderConfig()
    texts, label_list = suite.labelled()
    labels = np.asarray(label_list)
    fold = fold_of(labels, folds, seed)
    embeddings = encoder.embed([normalise(t) for t in texts])
    report = GroundingReport(folds=int(fold.max()) + 1)
    for f in tqdm(np.unique(fold), desc="grounding folds", disable=not progress):
        train = fold != f
        grounder = Grounder(
            encoder,
            suite.names,
            [t for t, keep in zip(texts, train, strict=True) if keep],
            labels[train].tolist(),
            config,
            embeddings=embeddings[train],
        )
        for i in np.flatnonzero(~train):
            report.positives.append(_outcome(grounder, texts[i], suite.names[labels[i]]))
    full = Grounder(encoder, suite.names, texts, labels.tolist(), config, embeddings=embeddings)
    report.negatives = [_outcome(full, text, None) for text in suite.negatives]
    return report
