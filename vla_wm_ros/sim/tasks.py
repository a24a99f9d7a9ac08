"""Task names: Meta-World v3 env ids without the "-v3" suffix ("drawer-open-v3" -> "drawer-open").

Importing metaworld takes about a second, so the lists are read from it on first use.
"""

from __future__ import annotations

import functools

SUFFIX = "-v3"


@functools.cache
def all_tasks() -> tuple[str, ...]:
    """Every Meta-World v3 task (the 50 of MT50), in Meta-World's order."""
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    return tuple(name.removesuffix(SUFFIX) for name in ALL_V3_ENVIRONMENTS)


@functools.cache
def mt10_tasks() -> tuple[str, ...]:
    """The ten MT10 tasks, in Meta-World's order (metaworld.env_dict.MT10_V3)."""
    from metaworld.env_dict import MT10_V3

    return tuple(name.removesuffix(SUFFIX) for name in MT10_V3)


def check_task(task: str) -> str:
    """Return the task name if Meta-World has it, else raise ValueError listing valid names."""
    name = task.removesuffix(SUFFIX)
    if name not in all_tasks():
        raise ValueError(
            f"unknown task {task!r}; valid Meta-World v3 tasks: {', '.join(all_tasks())}"
        )
    return name


def env_id(task: str) -> str:
    """Meta-World env id of a task name."""
    return check_task(task) + SUFFIX
