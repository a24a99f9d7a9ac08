"""Instruction grounding: text -> (task, confidence, embedding), or a refusal with a reason.

Two checks decide, both against the task suite's sentences (the prototypes):
- relatedness: cosine similarity between the instruction and the nearest prototype of
  the chosen task. Below `min_similarity` the instruction is about something else
  ("what's the weather tomorrow") and is refused.
- confidence: the linear probe's probability of the chosen task. Below
  `min_confidence` the instruction is ambiguous between tasks ("open it") and is refused.
Typos are repaired against the suite vocabulary before both checks. The returned
embedding is the encoder's vector of the instruction as given (whitespace-normalised): the
same vector the data loader uses as the goal of a stored episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.language.encoder import SentenceEncoder, SentenceEncoderConfig
from vla_wm_ros.language.probe import LinearProbe
from vla_wm_ros.language.spelling import Speller
from vla_wm_ros.language.suite import DEFAULT_SUITE, TaskSuite, load_suite
from vla_wm_ros.language.text_check import normalise, rejection_reason
from vla_wm_ros.language.threads import torch_threads


@dataclass
class GrounderConfig:
    # A shipped suite name ("mt10") or a path to a suite YAML file.
    suite: str = DEFAULT_SUITE
    encoder: SentenceEncoderConfig = field(default_factory=SentenceEncoderConfig)
    # Refuse when the nearest prototype of the chosen task is less similar than this.
    # Calibrated on the suite's negatives (max 0.43) and held-out paraphrases (min 0.61).
    min_similarity: float = 0.5
    # Refuse when the probe gives the chosen task less probability than this.
    min_confidence: float = 0.4
    # L2 penalty of the linear probe.
    l2: float = 1e-4
    # Repair typos against the suite vocabulary before grounding.
    correct_spelling: bool = True

    def validate(self) -> None:
        for key in ("min_similarity", "min_confidence"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key} must be in [0, 1], got {value}")
        if self.l2 <= 0:
            raise ConfigError(f"l2 must be positive, got {self.l2}")


@dataclass(frozen=True)
class Grounding:
    task: str | None  # None when rejected
    confidence: float  # probe probability of the best task, in [0, 1]
    embedding: np.ndarray  # (G,) float32 goal embedding; zeros when the text was refused
    accepted: bool
    reason: str  # why it was refused, or what it matched
    similarity: float = 0.0  # cosine to the nearest prototype of the best task

    def to_json(self) -> dict:
        return {
            "task": self.task,
            "confidence": round(float(self.confidence), 4),
            "accepted": self.accepted,
            "reason": self.reason,
        }


class Grounder:
    """Grounds instructions to the tasks of a suite with a sentence encoder."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        task_names: list[str],
        texts: list[str],
        labels: list[int],
        config: GrounderConfig | None = None,
        embeddings: np.ndarray | None = None,
    ) -> None:
        self.config = config or GrounderConfig()
        self.config.validate()
        self.encoder = encoder
        self.task_names = list(task_names)
        self.texts = list(texts)
        self.labels = np.asarray(labels, dtype=np.int64)
        missing = sorted(set(range(len(self.task_names))) - set(self.labels.tolist()))
        if missing:
            names = ", ".join(self.task_names[i] for i in missing)
            raise ValueError(f"tasks without any instruction: {names}")
        if embeddings is None:
            embeddings = encoder.embed([normalise(t) for t in self.texts])
        self.prototypes = np.asarray(embeddings, dtype=np.float32)
        with torch_threads(encoder.config.num_threads):
            self.probe = LinearProbe.fit(
                self.prototypes, self.labels, len(self.task_names), self.config.l2
            )
        self.speller = Speller(self.texts, encoder.known_words())

    @classmethod
    def from_suite(
        cls, suite: TaskSuite, encoder: SentenceEncoder, config: GrounderConfig | None = None
    ) -> Grounder:
        texts, labels = suite.labelled()
        return cls(encoder, suite.names, texts, labels, config)

    @classmethod
    def from_config(cls, config: GrounderConfig | None = None) -> Grounder:
        config = config or GrounderConfig()
        return cls.from_suite(load_suite(config.suite), SentenceEncoder(config.encoder), config)

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        """Goal embeddings (N, G) of instructions as given (whitespace-normalised)."""
        return self.encoder.embed([normalise(t) for t in texts])

    def _refuse(self, reason: str, embedding=None, confidence=0.0, similarity=0.0) -> Grounding:
        if embedding is None:
            embedding = np.zeros(self.dim, dtype=np.float32)
        return Grounding(None, float(confidence), embedding, False, reason, float(similarity))

    def ground(self, text: str, image: np.ndarray | None = None) -> Grounding:
        """`image` is accepted for the common grounding interface and not looked at."""
        problem = rejection_reason(text)
        if problem is not None:
            return self._refuse(problem)
        clean = normalise(text)
        embedding = self.encoder.embed([clean])[0]
        probe_input = embedding
        if self.config.correct_spelling:
            repaired = self.speller.correct(clean)
            if repaired != clean.lower():
                probe_input = self.encoder.embed([repaired])[0]
        probs = self.probe.probabilities(probe_input[None])[0]
        best = int(probs.argmax())
        confidence = float(probs[best])
        similarity = float((self.prototypes[self.labels == best] @ probe_input).max())
        name = self.task_names[best]
        if similarity < self.config.min_similarity:
            return self._refuse(
                f"not related to any task: the closest is {name} at similarity "
                f"{similarity:.2f} < {self.config.min_similarity:.2f}",
                embedding,
                confidence,
                similarity,
            )
        if confidence < self.config.min_confidence:
            runner_up = self.task_names[int(np.argsort(probs)[-2])]
            return self._refuse(
                f"ambiguous: {name} has confidence {confidence:.2f} < "
                f"{self.config.min_confidence:.2f} (next: {runner_up})",
                embedding,
                confidence,
                similarity,
            )
        return Grounding(
            name,
            confidence,
            embedding,
            True,
            f"grounded to {name} (confidence {confidence:.2f}, similarity {similarity:.2f})",
            similarity,
        )
