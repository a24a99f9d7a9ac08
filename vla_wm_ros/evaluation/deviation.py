"""How often the sent action differs from what the actor alone would have sent.

A planner that always sends its policy prior's action decides nothing; this measures, from
outside the graph, on how many control ticks it did otherwise. Each planned tick
(PlanStatus) is paired with the belief it acted on: the newest LatentState of the same goal
stamped no later than the tick (in lock-step the next belief is stamped after the action
that produced it; the stamps are the graph's clock, sim time or wall time alike). The
actor's mode action at that belief and goal is computed here from the same checkpoint, and
a tick deviates when any action dimension differs by more than `tolerance` (actions are
in [-1, 1]). Ticks with no belief to pair are counted apart, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vla_wm_ros.models.world_model import WorldModel

DEFAULT_TOLERANCE = 0.05  # max |sent - actor| over action dimensions, actions in [-1, 1]


@dataclass(frozen=True)
class BeliefRecord:
    stamp_ns: int
    goal_id: str
    feature: np.ndarray  # (F,) deter | stoch


@dataclass(frozen=True)
class TickRecord:
    stamp_ns: int
    goal_id: str
    action: np.ndarray  # (A,) the action sent


def pair_ticks(beliefs: list[BeliefRecord], ticks: list[TickRecord]) -> list[int | None]:
    """For every tick, the index in `beliefs` of the belief it acted on (None: none)."""
    by_goal: dict[str, list[tuple[int, int]]] = {}
    for i, b in enumerate(beliefs):
        by_goal.setdefault(b.goal_id, []).append((b.stamp_ns, i))
    for rows in by_goal.values():
        rows.sort()
    out: list[int | None] = []
    for tick in ticks:
        rows = by_goal.get(tick.goal_id, [])
        stamps = [s for s, _ in rows]
        k = int(np.searchsorted(stamps, tick.stamp_ns, side="right")) - 1
        out.append(rows[k][1] if k >= 0 else None)
    return out


@torch.no_grad()
def actor_deviation(
    wm: WorldModel,
    beliefs: list[BeliefRecord],
    ticks: list[TickRecord],
    goal: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict:
    """Share of ticks whose sent action differs from the actor's mode by > tolerance."""
    pairs = pair_ticks(beliefs, ticks)
    matched = [(t, beliefs[i]) for t, i in zip(ticks, pairs, strict=True) if i is not None]
    out = {"ticks": len(ticks), "paired": len(matched), "tolerance": tolerance}
    if not matched:
        return {**out, "deviating": 0, "share": float("nan"), "mean_abs": float("nan")}
    param = next(wm.parameters())
    feature = torch.as_tensor(np.stack([b.feature for _, b in matched]), dtype=param.dtype)
    goal_t = torch.as_tensor(goal, dtype=param.dtype)
    wm.eval()
    actor = wm.actor(feature.to(param.device), goal_t.to(param.device)).mode.cpu().numpy()
    sent = np.stack([t.action for t, _ in matched])
    gap = np.abs(sent - actor).max(axis=1)
    deviating = int((gap > tolerance).sum())
    return {
        **out,
        "deviating": deviating,
        "share": deviating / len(matched),
        "mean_abs": float(np.abs(sent - actor).mean()),
    }
