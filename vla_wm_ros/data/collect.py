"""Episode collection in the simulator: roll a policy, keep everything the dataset stores.

Work is split into (task, episode) jobs run by a process pool; each job is seeded from
(seed, task, episode number), so the same command always writes the same data, whatever
the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter
from vla_wm_ros.training import distributed


@dataclass(frozen=True)
class Job:
    task: str
    number: int  # episode number within (task, policy)
    policy: str
    seed: int
    max_steps: int
    image_size: int
    camera: str
    paraphrase: bool  # use a seeded paraphrase instead of the canonical instruction
    goal_marker_radius: float | None = None  # SimConfig.goal_marker_radius

    def episode_seed(self) -> int:
        """A placement seed that differs per task, policy and episode number."""
        key = f"{self.task}/{self.policy}/{self.number}/{self.seed}".encode()
        return zlib.crc32(key) & 0x7FFFFFFF


def _instruction(task: str, rng: np.random.Generator, paraphrase: bool) -> str:
    from vla_wm_ros.language.suite import load_suite

    spec = next(t for t in load_suite().tasks if t.name == task)
    if not paraphrase:
        return spec.canonical
    return str(rng.choice(spec.instructions))


def rollout(job: Job) -> Episode:
    """One episode of `job.policy` on `job.task`; runs until success + a few steps or the limit."""
    from vla_wm_ros.sim.env import MetaWorldEnv
    from vla_wm_ros.sim.policies import make_policy

    seed = job.episode_seed()
    rng = np.random.default_rng(seed)
    policy = make_policy(job.policy, rng)
    env = MetaWorldEnv(
        task=job.task,
        seed=seed,
        image_size=job.image_size,
        camera=job.camera,
        max_steps=job.max_steps,
        goal_marker_radius=job.goal_marker_radius,
    )
    try:
        obs = env.reset(seed=seed)
        images, state, env_state, actions, rewards, success = [], [], [], [], [], []
        for _ in range(job.max_steps):
            action = policy(env, obs)
            images.append(obs.image)
            state.append(obs.proprio)
            env_state.append(env.state.astype(np.float32))
            step = env.step(action)
            actions.append(np.asarray(action, dtype=np.float32))
            rewards.append(step.reward)
            success.append(step.success)
            obs = step.obs
        length = len(actions)
        done = np.zeros(length, dtype=bool)
        done[-1] = True
        return Episode(
            images=np.stack(images),
            state=np.stack(state),
            action=np.stack(actions),
            reward=np.asarray(rewards, dtype=np.float32),
            success=np.asarray(success, dtype=bool),
            done=done,
            terminated=np.zeros(length, dtype=bool),
            timestamp=(np.arange(length) / env.fps).astype(np.float32),
            instruction=_instruction(job.task, rng, job.paraphrase),
            task=job.task,
            environment_state=np.stack(env_state),
            seed=seed,
            policy=job.policy,
        )
    finally:
        env.close()


def dataset_spec(
    task: str, image_size: int, camera: str, goal_marker_radius: float | None = None
) -> DatasetSpec:
    """The spec of Meta-World data (same for every task: one action/proprio layout); a
    resized goal marker is recorded, as the images depend on it."""
    from vla_wm_ros.sim.env import MetaWorldEnv

    env = MetaWorldEnv(task=task, image_size=image_size, camera=camera, render=False)
    try:
        env.reset(seed=0)
        return DatasetSpec(
            fps=env.fps,
            image_shape=(image_size, image_size, 3),
            state_names=list(env.proprio_names),
            action_names=list(env.action_names),
            action_low=env.action_space_low.tolist(),
            action_high=env.action_space_high.tolist(),
            environment_state_dim=env.state_dim,
            robot_type="sawyer",
            source="metaworld",
            camera=camera,
            extra={} if goal_marker_radius is None else {"goal_marker_radius": goal_marker_radius},
        )
    finally:
        env.close()


def _run(jobs: list[Job], workers: int) -> Iterator[Episode]:
    if workers <= 1:
        yield from map(rollout, jobs)
        return
    # spawn: each worker opens its own EGL context; nothing GL-related is forked.
    with mp.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(rollout, jobs)


def _run_sharded(jobs: list[Job]) -> Iterator[Episode]:
    """Under torchrun: process r runs jobs r, r + world_size, ...; rank 0 receives every
    episode, in job order (so the dataset equals a one-process collection), and the
    other ranks yield nothing."""
    size, rank = distributed.world_size(), distributed.rank()
    for start in range(0, len(jobs), size):
        batch = jobs[start : start + size]
        gathered = distributed.gather_to_main(rollout(batch[rank]) if rank < len(batch) else None)
        if gathered is not None:
            yield from (episode for episode in gathered if episode is not None)


def collect(
    out: str | Path,
    jobs: list[Job],
    workers: int = 1,
    append: bool = False,
    progress: bool = True,
) -> dict:
    """Run `jobs` and write their episodes to `out` atomically; returns a summary.

    Under torchrun the jobs are shared by the processes (one simulator each, `workers`
    unused) and rank 0 writes; the other ranks return an empty summary.
    """
    from tqdm import tqdm

    if not jobs:
        raise ValueError("nothing to collect: no (task, episode) jobs")
    if distributed.active():
        episodes = _run_sharded(jobs)
        if not distributed.is_main():
            for _ in episodes:  # take part in every gather
                pass
            return {}
    else:
        episodes = _run(jobs, workers)
    spec = dataset_spec(
        jobs[0].task, jobs[0].image_size, jobs[0].camera, jobs[0].goal_marker_radius
    )
    per_task: dict[str, list[bool]] = {}
    frames = 0
    with DatasetWriter(out, spec, append=append) as writer:
        bar = tqdm(total=len(jobs), desc="collect", unit="episode", disable=not progress)
        for episode in episodes:
            writer.add(episode)
            frames += episode.length
            key = f"{episode.task}/{episode.policy}"
            per_task.setdefault(key, []).append(bool(episode.success.any()))
            bar.update(1)
        bar.close()
    return {
        "out": str(Path(out).absolute()),
        "episodes": len(jobs),
        "frames": frames,
        "success_rate": {k: float(np.mean(v)) for k, v in sorted(per_task.items())},
    }
