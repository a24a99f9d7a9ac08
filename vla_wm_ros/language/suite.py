"""The language task suite: tasks, their instructions, and unrelated sentences (data in YAML).

The default suite is `vla_wm_ros/tasks/mt10.yaml`, shipped as package data. A suite file
names each task, gives one canonical instruction and its paraphrases, and lists negative
sentences that grounding must reject.
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
class TaskSuite:
    version: int
    tasks: list[TaskSpec]
    negatives: list[str] = field(default_factory=list)

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

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def task(self, name: str) -> TaskSpec:
        for spec in self.tasks:
            if spec.name == name:
                return spec
        raise KeyError(f"task {name!r} is not in the suite; tasks: {', '.join(self.names)}")

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
