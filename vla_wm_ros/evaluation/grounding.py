"""Grounding accuracy of one backend on text-only and image-dependent instructions.

Images are rendered from the simulator: each task's reset state (for a text-only
instruction, the scene of the task it names; for a scene instruction, its scene). The
sentence backend's text-only figure is cross-validated (`language/evaluation.py`: every
paraphrase is grounded by a grounder fitted without it); the VLM backend is zero-shot,
so it grounds every instruction of the suite as it is. Negatives must be refused, and so
must a scene instruction whose expected task is null.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from vla_wm_ros.bench.stats import latency_summary
from vla_wm_ros.language.grounding import Grounder
from vla_wm_ros.language.suite import TaskSuite


@dataclass
class Trial:
    text: str
    scene: str  # the task whose reset state the image shows
    expected: str | None
    task: str | None
    accepted: bool
    ms: float

    @property
    def correct(self) -> bool:
        if self.expected is None:
            return not self.accepted
        return self.accepted and self.task == self.expected


def render_scenes(tasks: list[str], size: int, seed: int, progress: bool) -> dict[str, np.ndarray]:
    """The reset frame of each task's simulator scene (default orbit camera)."""
    from tqdm import tqdm

    from vla_wm_ros.sim.env import MetaWorldEnv

    frames: dict[str, np.ndarray] = {}
    for task in tqdm(tasks, desc="rendering scenes", disable=not progress):
        with MetaWorldEnv(task, seed=seed, image_size=size) as env:
            frames[task] = env.reset(seed=seed).image
    return frames


def run_trials(
    grounder, items: list[tuple[str, str, str | None]], frames: dict[str, np.ndarray], progress
) -> list[Trial]:
    """Ground each (text, scene task, expected) with the scene's frame, timing every call."""
    from tqdm import tqdm

    trials = []
    for text, scene, expected in tqdm(items, desc="grounding", disable=not progress):
        start = time.perf_counter()
        g = grounder.ground(text, frames[scene])
        ms = (time.perf_counter() - start) * 1e3
        trials.append(Trial(text, scene, expected, g.task, g.accepted, ms))
    return trials


def _accuracy(trials: list[Trial]) -> float:
    return round(float(np.mean([t.correct for t in trials])), 4)


def _errors(trials: list[Trial]) -> list[dict]:
    return [
        {"text": t.text, "scene_of_task": t.scene, "expected": t.expected, "got": t.task}
        for t in trials
        if not t.correct
    ]


def scene_items(suite: TaskSuite) -> list[tuple[str, str, str | None]]:
    return [(s.text, suite.scene(s.scene).task, s.expected) for s in suite.scene_instructions]


def text_items(suite: TaskSuite) -> list[tuple[str, str, str | None]]:
    """Every instruction with its own task's scene; negatives shown the tasks in turn."""
    texts, labels = suite.labelled()
    items = [(t, suite.names[i], suite.names[i]) for t, i in zip(texts, labels, strict=True)]
    names = suite.names
    return items + [(t, names[i % len(names)], None) for i, t in enumerate(suite.negatives)]


def evaluate_grounding(
    grounder, suite: TaskSuite, frames: dict[str, np.ndarray], folds: int, progress: bool
) -> dict:
    """Accuracy (text-only, image-dependent) and per-call latency of `grounder`."""
    from vla_wm_ros.language.evaluation import evaluate

    scene = run_trials(grounder, scene_items(suite), frames, progress)
    if isinstance(grounder, Grounder):
        cv = evaluate(suite, grounder.encoder, grounder.config, folds=folds, progress=progress)
        negatives = [item for item in text_items(suite) if item[2] is None]
        timed = run_trials(grounder, negatives, frames, progress)
        text = {
            "method": f"{cv.folds}-fold cross-validated",
            "instructions": len(cv.positives),
            "accuracy": round(cv.accuracy, 4),
            "negatives": len(cv.negatives),
            "negative_rejection": round(cv.negative_rejection, 4),
            "errors": cv.summary()["errors"],
        }
    else:
        timed = run_trials(grounder, text_items(suite), frames, progress)
        positives = [t for t in timed if t.expected is not None]
        negatives = [t for t in timed if t.expected is None]
        text = {
            "method": "zero-shot (the VLM is not fitted to the suite)",
            "instructions": len(positives),
            "accuracy": _accuracy(positives),
            "negatives": len(negatives),
            "negative_rejection": _accuracy(negatives) if negatives else 1.0,
            "errors": _errors(timed),
        }
    return {
        "text_only": text,
        "image_dependent": {
            "instructions": len(scene),
            "must_refuse": sum(t.expected is None for t in scene),
            "accuracy": _accuracy(scene),
            "errors": _errors(scene),
        },
        "latency_ms": latency_summary([t.ms for t in scene + timed]),
    }
