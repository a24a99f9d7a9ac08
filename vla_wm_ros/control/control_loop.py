"""One control tick, without ROS: latest belief + goal -> the action to send, and why.

What the planner node used to decide itself, so it is tested without a graph: the
watchdog gate (no goal, no belief of the current goal, a belief older than
`max_latent_age` -> the safe action), lock-step (act once per new belief, and wait for
one rather than hold, up to LOCKSTEP_PATIENCE: the simulator steps on every action, a
hold included, and waits for the next, so no belief there is ever old and a hold would be
a step the timing of the CPU had put in), the plan's
budget (a fraction of the period, less the frame's age when beliefs trigger the tick),
a failing planner answered by the safe action, the safe action for an uncertain plan,
and the health rules /diagnostics reports. The node converts messages and publishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_wm_ros.config import ConfigError
from vla_wm_ros.control import watchdog
from vla_wm_ros.control.control_policy import (
    ActorPolicy,
    ControlPolicy,
    Decision,
    make_policy,
    safe_result,
)
from vla_wm_ros.control.deadline_guard import DeadlineGuard
from vla_wm_ros.control.input_checks import as_model_values, goal_problem
from vla_wm_ros.control.loop_settings import LoopSettings
from vla_wm_ros.control.loop_stats import LoopStats
from vla_wm_ros.control.model_runtime import ModelRuntime

# Statuses that mean the tick planned (its own action or the fallback's in time).
PLANNED = ("ok", "deadline")


# Lock-step: seconds a tick waits for a belief before it holds after all (the hold steps
# the simulator, whose next frame restarts a belief that was refused or lost).
LOCKSTEP_PATIENCE = 2.0


@dataclass
class Belief:
    """A latent belief as it arrived: its goal, state arrays and the stamp of its frame."""

    goal_id: str
    deter: np.ndarray
    stoch: np.ndarray
    stamp: float  # seconds, on the node clock (the frame's header stamp)
    arrival: float  # time.monotonic() when it arrived


@dataclass
class Tick:
    """What one tick decided: the action (clipped to [-1, 1]) and what to report with it."""

    decision: Decision
    goal_id: str
    latent_age: float | None  # seconds since the belief arrived; None: no belief yet
    start: float  # time.monotonic() at the start of the tick


def safe_action(values: list[float], action_dim: int) -> np.ndarray:
    """The hold action: one value for every dimension or one each, all in [-1, 1]."""
    array = np.asarray(values, dtype=np.float64)
    if array.size not in (1, action_dim) or not np.all(np.abs(array) <= 1.0):
        raise ConfigError(
            f"safe_action: {list(array)} must hold 1 or {action_dim} values in [-1, 1]"
        )
    return np.broadcast_to(array, (action_dim,)).copy()


def guarded_policy(
    mode: str, model: ModelRuntime, kind: str, config_source: str, seed: int, s: LoopSettings
) -> ControlPolicy:
    """The mode's policy; a planner is held to the hard deadline (fallback_fraction of the
    period) by the actor."""
    s.validate()
    policy = make_policy(mode, model, kind, config_source, seed)
    if mode != "planner":
        return policy
    grace = (s.fallback_fraction - s.deadline_fraction) * s.period
    return DeadlineGuard(policy, ActorPolicy(model), grace)


class ControlLoop:
    """Goal and belief in, one `Tick` out per control tick (or none when it must not act).

    `clock` is the node clock in seconds (what message stamps are on): with trigger
    `belief` the frame's age on it is taken off the plan's budget.
    """

    def __init__(
        self,
        model: ModelRuntime,
        policy: ControlPolicy,
        safe: np.ndarray,
        settings: LoopSettings,
        clock: Callable[[], float],
    ) -> None:
        settings.validate()
        self.model, self.policy, self.safe = model, policy, safe
        self.settings = settings
        self.stats = LoopStats(settings.period, settings.stats_window)
        self._clock = clock
        self.goal_id: str | None = None
        self._goal: np.ndarray | None = None
        self._belief: Belief | None = None
        self._beliefs = 0
        self._acted_on = 0
        self.waiting = ""  # lock-step: why the last tick waited for a belief ("" if not)
        self._waiting_since = 0.0
        self.last: Tick | None = None
        # Ticks that planned with less work than configured (fewer iterations: the
        # planner shrank to the time it had) and ticks that fell back to the actor.
        self.plans_shrunk = 0
        self.plans_fallen_back = 0

    # -- inputs ----------------------------------------------------------------------------

    def set_goal(self, goal_id: str, embedding: list[float]) -> str | None:
        """Take a goal; None when accepted (or already current), else why it was refused."""
        problem = goal_problem(embedding, self.model.goal_dim)
        if problem:
            return problem
        if goal_id != self.goal_id:
            self.goal_id, self._goal = goal_id, np.asarray(embedding, dtype=np.float32)
        return None

    def clear_goal(self) -> None:
        """Stop: no goal, so every tick from the next one holds (status no_goal)."""
        self.goal_id, self._goal = None, None

    def set_belief(self, belief: Belief) -> str | None:
        """Take a belief; None when accepted, else why it was refused."""
        m = self.model
        deter, deter_problem = as_model_values(belief.deter, "deter value(s)")
        stoch, stoch_problem = as_model_values(belief.stoch, "stoch value(s)")
        if len(deter) != m.deter_dim or len(stoch) != m.stoch_dim:
            return (
                f"deter {len(deter)} / stoch {len(stoch)} values, expected "
                f"{m.deter_dim} / {m.stoch_dim}"
            )
        if deter_problem or stoch_problem:
            return deter_problem or stoch_problem
        belief.deter, belief.stoch = deter, stoch
        self._belief = belief
        self._beliefs += 1
        return None

    # -- the tick --------------------------------------------------------------------------

    def tick(self, watch_only: bool = False) -> Tick | None:
        """This tick's action, or None when there is nothing to do.

        `watch_only` (the timer, when beliefs trigger the ticks): act only when the
        watchdog objects. With lockstep, a tick with no new belief does not act.
        """
        start = time.monotonic()
        belief = self._belief
        age = start - belief.arrival if belief is not None else None
        lockstep = self.settings.lockstep
        verdict = watchdog.check(
            self.goal_id,
            belief.goal_id if belief else None,
            age,
            float("inf") if lockstep else self.settings.max_latent_age,
        )
        if lockstep and verdict is not None and verdict.status == watchdog.STALE:
            if not self.waiting:
                self._waiting_since = start
            self.waiting = verdict.reason
            if start - self._waiting_since < LOCKSTEP_PATIENCE:
                return None  # the simulator waits for the belief's action, not a hold
        if watch_only and verdict is None:
            return None
        if lockstep and self._beliefs == self._acted_on and verdict is None:
            return None  # nothing new to act on; the simulator waits for us
        self.waiting = ""
        self._acted_on = self._beliefs
        if verdict is not None:
            decision = safe_result(self.safe, verdict.status, verdict.reason)
        else:
            decision = self._decide(belief, start)
        decision.action = np.clip(np.asarray(decision.action, dtype=np.float64), -1.0, 1.0)
        return Tick(decision, self.goal_id or "", age, start)

    def _decide(self, belief: Belief, start: float) -> Decision:
        if self.policy.goal_id != self.goal_id:
            self.policy.reset(self.goal_id)  # new goal: drop the warm start
        deadline = start + self._budget(belief)
        try:
            state = self.model.state_from_arrays(belief.deter, belief.stoch)
            decision = self.policy.act(state, self._goal, deadline)
        except Exception as exc:  # a failing planner must not stop the loop
            decision = safe_result(self.safe, "error", f"planner failed: {exc}")
        if decision.status == "uncertain":
            decision.action = self.safe.copy()
        return decision

    def _budget(self, belief: Belief) -> float:
        """Seconds this tick may plan. Triggered by beliefs, the frame's age since its
        stamp is already spent (at most half the budget, against clock skew)."""
        budget = self.settings.period * self.settings.deadline_fraction
        if self.settings.trigger != "belief":
            return budget
        age = self._clock() - belief.stamp
        return budget - min(max(age, 0.0), budget / 2)

    def finish(self, tick: Tick, latency: float) -> bool:
        """Record a sent tick and its latency (s, tick start to sent); True when it starts
        holding (a safe action whose status differs from the previous tick's)."""
        self.stats.record(tick.start, latency)
        previous, self.last = self.last, tick
        status = tick.decision.status
        if status == "deadline":
            if tick.decision.iterations > 0:
                self.plans_shrunk += 1
            else:
                self.plans_fallen_back += 1
        return status not in PLANNED and (previous is None or previous.decision.status != status)

    # -- health ----------------------------------------------------------------------------

    def health(self) -> tuple[str, str, dict]:
        """(level 'ok' | 'warn' | 'error', message, values) for /diagnostics."""
        stats = self.stats.summary()
        last = self.last
        decision = last.decision if last else None
        age = last.latent_age if last else None
        values = {
            "planner": self.policy.name,
            **stats,
            "last_status": (decision.reason or "ok") if decision else "-",
            "uncertainty": decision.uncertainty if decision else 0.0,
            "latent_age_ms": age * 1e3 if age is not None else -1.0,
            "goal_id": last.goal_id if last and last.goal_id else "-",
            "abandoned_plans": getattr(self.policy, "abandoned", 0),
            "plans_shrunk": self.plans_shrunk,
            "plans_fallen_back": self.plans_fallen_back,
        }
        if self.waiting:
            return "warn", f"lock-step, waiting: {self.waiting}", values
        if decision is None:
            return "warn", "no tick yet", values
        if decision.status == watchdog.NO_GOAL:
            return "ok", f"holding: {decision.reason}", values
        if decision.status not in PLANNED:
            return "error", f"safe action: {decision.reason}", values
        if decision.status == "deadline":
            work = "shrunk to" if decision.iterations else "fell back:"
            return "warn", f"planning {work} the time of the tick ({decision.reason})", values
        paced = self.settings.lockstep or self.settings.trigger == "belief"  # camera sets rate
        if stats["rate_hz"] < 0.9 * stats["target_hz"] and not paced:
            return "warn", f"control rate {stats['rate_hz']:.1f} Hz", values
        return "ok", "planning", values

    def close(self) -> None:
        self.policy.close()
