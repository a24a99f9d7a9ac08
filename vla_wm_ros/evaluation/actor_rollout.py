"""Closed-loop success of the learned actor alone, in the simulator, without ROS.

Per control step: render the observation, encode it, take one RSSM filter step with the
action executed before (what the runtime's belief filter does), and act with the
goal-conditioned actor's mode (tanh of its mean). An episode succeeds when the task
reports success at any step within `max_steps` (Meta-World's convention). Placement
seeds are drawn from a range the collector never uses (collector seeds are CRC32 hashes,
ours are offset by 2**31 so they never coincide), so this measures generalisation to
unseen placements.

This tells the runtime which tasks the actor prior can already solve; the planner is
evaluated on top of it by the runtime's own closed-loop evaluation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from vla_wm_ros.data.loader import Embedder
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.sim.observation import ObservationSpec

# Placement seeds for evaluation: above any seed the collector can produce (< 2**31).
EVAL_SEED_BASE = 2**31


@dataclass
class EpisodeOutcome:
    task: str
    seed: int
    success: bool
    steps: int  # steps until the first success, or max_steps
    return_: float


class ActorController:
    """The actor driven by an RSSM belief updated once per control step (batch of one)."""

    def __init__(self, wm: WorldModel, goal: np.ndarray, sample: bool = False):
        self.wm = wm.eval()
        self.sample = sample
        goal_t = torch.as_tensor(goal, dtype=torch.float32)[None]
        self.goal_term = wm.actor.goal_term(goal_t)
        self.reset()

    def reset(self) -> None:
        self.state = self.wm.rssm.initial(1)
        self.prev_action = torch.zeros(1, self.wm.action_dim)
        self.first = True

    @torch.no_grad()
    def act(self, image: np.ndarray, proprio: np.ndarray) -> np.ndarray:
        """Filter the observation (H, W, 3 uint8; P float) into the belief, return an action."""
        img = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
        prop = torch.as_tensor(proprio, dtype=torch.float32)[None]
        embed = self.wm.encode(img if self.wm.encoder.uses_image else None, prop)
        is_first = torch.tensor([self.first])
        self.state = self.wm.rssm.obs_step(
            self.state, self.prev_action, embed, is_first, sample=False
        )[0]
        self.first = False
        dist = self.wm.actor(self.wm.feature(self.state), goal_term=self.goal_term)
        action = dist.sample() if self.sample else dist.mode
        self.prev_action = action
        return action[0].numpy().astype(np.float32)


def rollout_actor(wm: WorldModel, env, goal: np.ndarray, seed: int) -> EpisodeOutcome:
    """One episode of the actor in `env` (a MetaWorldEnv) from placement `seed`; stops at
    the first success or after env.max_steps steps."""
    controller = ActorController(wm, goal)
    obs = env.reset(seed=seed)
    total = 0.0
    for step in range(env.max_steps):
        result = env.step(controller.act(obs.image, obs.proprio))
        total += result.reward
        if result.success:
            return EpisodeOutcome(env.task, seed, True, step + 1, total)
        obs = result.obs
    return EpisodeOutcome(env.task, seed, False, env.max_steps, total)


def actor_env(task: str, observation: ObservationSpec, max_steps: int):
    """The MetaWorldEnv an actor acts in: rendered as its checkpoint's data was
    (sim/observation.py), so it sees the camera and goal marker it was trained on."""
    from vla_wm_ros.sim.env import MetaWorldEnv

    return MetaWorldEnv(task=task, max_steps=max_steps, **observation.sim_kwargs())


def evaluate_actor(
    wm: WorldModel,
    tasks: list[str],
    episodes: int,
    embedder: Embedder,
    max_steps: int = 150,
    observation: ObservationSpec | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Success rate per task over `episodes` unseen placements each, with the instruction
    given as each task's canonical sentence (embedded by `embedder`), rendered as
    `observation` says (default: Meta-World's defaults at the model's image size)."""
    from tqdm import tqdm

    from vla_wm_ros.language.suite import load_suite

    if observation is None:
        observation = ObservationSpec(image_size=wm.cfg.encoder.image_size)
    suite = load_suite()
    instructions = [suite.task(t).canonical for t in tasks]
    goals = dict(zip(tasks, embedder(instructions), strict=True))
    outcomes: list[EpisodeOutcome] = []
    start = time.perf_counter()
    bar = tqdm(total=len(tasks) * episodes, desc="actor rollouts", unit="ep", disable=not progress)
    seeds = [EVAL_SEED_BASE + seed * 1000 + n for n in range(episodes)]
    for task in tasks:
        with actor_env(task, observation, max_steps) as env:
            for episode_seed in seeds:
                outcomes.append(rollout_actor(wm, env, goals[task], episode_seed))
                bar.update(1)
    bar.close()
    per_task = {}
    for task in tasks:
        mine = [o for o in outcomes if o.task == task]
        wins = [o for o in mine if o.success]
        per_task[task] = {
            "success_rate": len(wins) / len(mine),
            "episodes": len(mine),
            "mean_steps_to_success": float(np.mean([o.steps for o in wins])) if wins else None,
            "mean_return": float(np.mean([o.return_ for o in mine])),
        }
    rates = [v["success_rate"] for v in per_task.values()]
    return {
        "episodes_per_task": episodes,
        "max_steps": max_steps,
        "observation": observation.to_meta(),
        "seeds": seeds,
        "per_task": per_task,
        "mean_success_rate": float(np.mean(rates)),
        "tasks_at_or_above_80pct": sorted(
            t for t, v in per_task.items() if v["success_rate"] >= 0.8
        ),
        "wall_s": round(time.perf_counter() - start, 1),
    }
