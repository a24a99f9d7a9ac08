"""Action sources for collection: Meta-World's scripted experts, a noisy expert, random.

Experts read the full state vector (`env.state`), which only the simulator has.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import numpy as np

from vla_wm_ros.sim.env import MetaWorldEnv, Observation
from vla_wm_ros.sim.state_layout import STATE_SLICES
from vla_wm_ros.sim.tasks import env_id

PolicyKind = Literal["expert", "noisy-expert", "random"]
POLICY_KINDS: tuple[str, ...] = ("expert", "noisy-expert", "random")
Policy = Callable[[MetaWorldEnv, Observation], np.ndarray]


@functools.cache
def _scripted(task: str):
    from metaworld.policies import ENV_POLICY_MAP

    return ENV_POLICY_MAP[env_id(task)]()


def expert_action(env: MetaWorldEnv, obs: Observation | None = None) -> np.ndarray:
    """Meta-World's scripted policy for `env.task`, clipped to the action bounds; ours for
    reach, peg-insert-side and pick-place (`reach_action`, `peg_insert_action`,
    `pick_place_action`), where Meta-World's labels states a learner reaches wrongly.

    `obs` is accepted for symmetry with learned policies; the expert reads `env.state`.
    """
    if env.task == "reach":
        action = reach_action(env)
    elif env.task == "peg-insert-side":
        action = peg_insert_action(env.state)
    elif env.task == "pick-place":
        action = pick_place_action(env.state)
    else:
        action = np.asarray(_scripted(env.task).get_action(env.state), dtype=np.float32)
    return np.clip(action, env.action_space_low, env.action_space_high)


def reach_action(env: MetaWorldEnv, gain: float = 5.0) -> np.ndarray:
    """Reach with the grip point on the goal, where Meta-World measures success.

    Meta-World's scripted reach steers the hand (`state[:3]`) onto the goal, which parks
    the grip point 4.5 cm under it: inside the 5 cm success radius by 0.5 cm, so a
    policy cloned from it fails on a centimetre of error. Same proportional step (gain 5
    per metre, as the scripted one), open gripper (effort 0)."""
    goal = env.state[STATE_SLICES["goal"]]
    delta = gain * (goal - env.grip_point)
    return np.append(delta, 0.0).astype(np.float32)


def peg_insert_action(state: np.ndarray, gain: float = 25.0) -> np.ndarray:
    """Grasp the peg, carry it level with the hole, push it in along -x.

    Meta-World's scripted peg policy goes back to "descend onto the peg" whenever the hand
    is more than 2.5 cm above it, which is about where a grasped peg hangs: a learner that
    holds the peg a few millimetres lower is told to put it down, and DAgger clones that
    (the shipped actor's failed episodes lower the lifted peg at x ~ 0). Here the hand
    descends only onto a peg lying on the table, and the carry is judged by the hand's
    own height and row (its target), not by the hanging peg's. Same gain as Meta-World's.
    """
    hand, peg, goal = (state[STATE_SLICES[k]] for k in ("hand", "object", "goal"))
    row, height = goal[1], 0.16  # the hole's y; the hand's height that levels the peg
    on_table = peg[2] < 0.04
    over_peg = np.linalg.norm(hand[:2] - peg[:2]) <= 0.04
    if on_table and not over_peg:
        target = peg + np.array([0.0, 0.0, 0.3])  # above the peg, clear of everything
    elif on_table and hand[2] - peg[2] > 0.025:
        target = peg  # down onto it
    elif np.linalg.norm(hand[1:] - np.array([row, height])) > 0.03:
        target = np.array([0.05, row, height])  # level with the hole, 40 cm out
    else:
        target = np.array([-0.35, row, height])  # in
    near = over_peg and hand[2] - peg[2] <= 0.15
    grip = 0.6 if near else -1.0
    return np.append(gain * (target - hand), grip).astype(np.float32)


def pick_place_action(state: np.ndarray, gain: float = 10.0) -> np.ndarray:
    """Grasp the puck at its height, then carry it so that the puck, not the hand, ends
    on the goal.

    Meta-World's scripted pick-place closes the gripper as soon as the hand is within
    7 cm of the puck, while it is still descending from 10 cm above: the expert's fast
    descent gets there first, a slower learner closes in the air and grasps the puck's
    rim or nothing (the shipped actor's failed rollouts: grip closed, puck left behind or
    dropped). It then steers the hand onto the goal, the puck hanging ~3-4 cm under it
    (success: puck within 7 cm). Here the gripper closes only at grasp height and the
    carry aims the puck. Same gain as Meta-World's.
    """
    hand, puck, goal = (state[STATE_SLICES[k]] for k in ("hand", "object", "goal"))
    opening = state[3]  # the gripper's opening, after the hand's x, y, z
    over_puck = np.linalg.norm(hand[:2] - puck[:2]) <= 0.02
    low = hand[2] - puck[2] <= 0.05
    grip = -1.0
    if puck[2] < 0.04 and not over_puck:
        target = puck + np.array([0.0, 0.0, 0.1])  # above it, open
    elif puck[2] < 0.04 and not low:
        target = puck + np.array([0.0, 0.0, 0.03])  # down to grasp height, open
    else:
        grip = 1.0
        # Wait for the fingers to close on a puck still on the table; then carry it.
        lifting = puck[2] >= 0.04 or opening <= 0.73
        target = goal + (hand - puck) if lifting else hand
    return np.append(gain * (target - hand), grip).astype(np.float32)


def make_policy(kind: PolicyKind, rng: np.random.Generator, noise_std: float = 0.3) -> Policy:
    """A policy of `kind`; its randomness (noise, random actions) comes from `rng` only."""
    if kind == "expert":
        return expert_action
    if kind == "noisy-expert":

        def noisy(env: MetaWorldEnv, obs: Observation) -> np.ndarray:
            action = expert_action(env, obs) + rng.normal(0.0, noise_std, env.action_dim)
            return np.clip(action, env.action_space_low, env.action_space_high).astype(np.float32)

        return noisy
    if kind == "random":

        def uniform(env: MetaWorldEnv, obs: Observation) -> np.ndarray:
            return rng.uniform(env.action_space_low, env.action_space_high).astype(np.float32)

        return uniform
    raise ValueError(f"unknown policy {kind!r}; valid: {', '.join(POLICY_KINDS)}")
