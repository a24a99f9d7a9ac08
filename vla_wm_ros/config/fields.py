"""Field metadata that documents a setting: what it means and its bounds.

Settings a ROS node exposes are written once, as dataclass fields with
`metadata=doc(...)`; the node's parameter declarations are generated from them
(ros/parameters.params_from), so a default and its description have one home.
"""

from __future__ import annotations


def doc(help: str, low: float | None = None, high: float | None = None) -> dict:
    """`field(metadata=...)` for a setting: its description and optional [low, high]."""
    return {"help": help, "low": low, "high": high}
