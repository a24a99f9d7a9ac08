"""The language task suite: tasks, their instructions, and unrelated sentences (data in YAML).

The default suite is `vla_wm_ros/tasks/mt10.yaml`, shipped as package data. A suite file
names each task, gives one canonical instruction and its paraphrases, and lists negative
sentences that grounding must reject. Scene instructions need the camera image: each
names a scene (a task's simulator reset state: drawer open, window closed, ...) and the
task it means there, or null when it must be refused in that scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from vla_wm_ros.config.loader import ConfigError, load_yaml

DEFAULT_SUITE = "mt10"


@dataclass
class TaskSpec:
    name: str
    canonical: str
    paraphrases: list[str] = field(default_factory=list)

    @property
    def instructions(self) -> list[str]:
        """Canonical instruction first, then the paraphrases."""
        return [self.canonical, *self.paraphrases]

    def validate(self) -> None:
        if not self.name.strip():
            raise ConfigError("name: must not be empty")
        texts = self.instructions
        if any(not t.strip() for t in texts):
            raise ConfigError(f"task {self.name}: empty instruction")
        if len(set(texts)) != len(texts):
            raise ConfigError(f"task {self.name}: duplicate instructions")


@dataclass
class SceneSpec:
    """A camera view to ground against: the reset state of `task`'s simulator scene."""

    name: str
    task: str  # the Meta-World task whose reset state is rendered
    shows: str  # what the image shows (for people reading the suite)


@dataclass
class SceneInstruction:
    """An instruction only the image resolves, with the task it means in one scene."""

    text: str
    scene: str
    expected: str | None  # the task, or None when it must be refused in this scene


@dataclass
class TaskSuite:
    version: int
    tasks: list[TaskSpec]
    negatives: list[str] = field(default_factory=list)
    scenes: list[SceneSpec] = field(default_factory=list)
    scene_instructions: list[SceneInstruction] = field(default_factory=list)

    def validate(self) -> None:
        names = [t.name for t in self.tasks]
        if not names:
            raise ConfigError("tasks: the suite has no tasks")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"tasks: duplicate task names {', '.join(dupes)}")
        owner: dict[str, str] = {}
        for task in self.tasks:
            for text in task.instructions:
                if text in owner and owner[text] != task.name:
                    raise ConfigError(
                        f"tasks: {text!r} is an instruction of both {owner[text]} and {task.name}"
                    )
                owner[text] = task.name
        clash = sorted(set(self.negatives) & set(owner))
        if clash:
            raise ConfigError(f"negatives: also task instructions: {clash}")
        scenes = {s.name for s in self.scenes}
        for scene in self.scenes:
            if scene.task not in names:
                raise ConfigError(f"scenes: {scene.name} renders unknown task {scene.task!r}")
        for i, item in enumerate(self.scene_instructions):
            if item.scene not in scenes:
                raise ConfigError(f"scene_instructions[{i}]: unknown scene {item.scene!r}")
            if item.expected is not None and item.expected not in names:
                raise ConfigError(f"scene_instructions[{i}]: unknown task {item.expected!r}")

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def task(self, name: str) -> TaskSpec:
        for spec in self.tasks:
            if spec.name == name:
                return spec
        raise KeyError(f"task {name!r} is not in the suite; tasks: {', '.join(self.names)}")

    def scene(self, name: str) -> SceneSpec:
        for scene in self.scenes:
            if scene.name == name:
                return scene
        raise KeyError(f"scene {name!r} is not in the suite")

    def labelled(self) -> tuple[list[str], list[int]]:
        """Every instruction of every task, with the index of its task."""
        texts: list[str] = []
        labels: list[int] = []
        for i, task in enumerate(self.tasks):
            texts += task.instructions
            labels += [i] * len(task.instructions)
        return texts, labels


def suite_path(name_or_path: str | Path = DEFAULT_SUITE) -> Path:
    """A shipped suite by name ("mt10") or any YAML file path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    shipped = resources.files("vla_wm_ros") / "tasks" / f"{name_or_path}.yaml"
    return Path(str(shipped))


def load_suite(name_or_path: str | Path = DEFAULT_SUITE) -> TaskSuite:
    path = suite_path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such task suite")
    return load_yaml(TaskSuite, path)
