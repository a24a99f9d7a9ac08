"""Offscreen rendering throughput of the simulator: frames/s at a given image size.

Three figures per task, so the cost of the image is visible on its own: `render_fps`
(render the same state again and again), `step_fps` (physics steps without images) and
`step_render_fps` (what collection and the sim bridge pay per step).
"""

from __future__ import annotations

import time

import numpy as np

from vla_wm_ros.latency import latency_summary
from vla_wm_ros.sim.env import MetaWorldEnv


def _timed(fn, frames: int) -> list[float]:
    out = []
    for _ in range(frames):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def measure_render(task: str, image_size: int, camera: str, frames: int, seed: int = 0) -> dict:
    """Frames/s of rendering, stepping, and both, for one task (after a short warm-up)."""
    rng = np.random.default_rng(seed)
    with MetaWorldEnv(task, seed=seed, image_size=image_size, camera=camera) as env:
        env.reset(seed=seed)

        def step() -> None:
            if env.steps >= env.max_steps:
                env.reset()
            env.step(rng.uniform(env.action_space_low, env.action_space_high))

        for _ in range(5):
            env.render()
        render_ms = _timed(env.render, frames)
        step_render_ms = _timed(step, frames)
    with MetaWorldEnv(task, seed=seed, render=False) as env:
        env.reset(seed=seed)
        step_ms = _timed(step, frames)
    return {
        "task": task,
        "render_fps": 1e3 / float(np.mean(render_ms)),
        "step_fps": 1e3 / float(np.mean(step_ms)),
        "step_render_fps": 1e3 / float(np.mean(step_render_ms)),
        "render_latency": latency_summary(render_ms),
    }
