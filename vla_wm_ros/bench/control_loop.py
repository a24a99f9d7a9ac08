"""The control-loop benchmark: one backend, the real graph, frames in, actions out.

Starts camera_encoder, state_estimator, instruction_parser and planner (`trigger:
belief`, so each action answers a frame) on the `none` profile with the given backend,
sets a goal through `~/set_goal`, then plays frames at `rate_hz` with a LoopProbe and
reduces what it timed: per stage (encode = frame sent -> Embedding received, filter ->
LatentState, plan -> command) and end to end, with the frames whose command came later
than one period, or never, counted as deadline misses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vla_wm_ros.latency import latency_summary

if TYPE_CHECKING:
    from vla_wm_ros.ros.loop_probe import LoopProbe

STAGES = ("encode", "filter", "plan", "end_to_end")


@dataclass
class FrameTimes:
    """Steady-clock arrival times of one frame's products (None: never came)."""

    sent: float
    embedding: float | None = None
    latent: float | None = None
    action: float | None = None


def _stage_ms(frame: FrameTimes) -> dict[str, float | None]:
    def gap(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else (b - a) * 1e3

    return {
        "encode": gap(frame.sent, frame.embedding),
        "filter": gap(frame.embedding, frame.latent),
        "plan": gap(frame.latent, frame.action),
        "end_to_end": gap(frame.sent, frame.action),
    }


def summarise(frames: list[FrameTimes], period_ms: float) -> dict:
    """Percentiles per stage over the frames, and the deadline misses end to end."""
    per_frame = [_stage_ms(f) for f in frames]
    out: dict = {"frames": len(frames)}
    for stage in STAGES:
        samples = [f[stage] for f in per_frame if f[stage] is not None]
        out[stage] = latency_summary(samples) if samples else None
    unanswered = sum(f["end_to_end"] is None for f in per_frame)
    late = sum(f["end_to_end"] is not None and f["end_to_end"] > period_ms for f in per_frame)
    out["deadline_ms"] = period_ms
    out["unanswered"] = unanswered
    out["deadline_misses"] = unanswered + late
    return out


def _after_warmup(probe: LoopProbe, warmup: int, rate_hz: float) -> int:
    """Index of the first timed frame: the one sent after `warmup` frames were answered.

    Counting answers, not frames sent, keeps one-off costs (a JIT's first optimising
    calls, lazy allocations) out of the timed frames however slow the machine is.
    """
    from vla_wm_ros.ros.graph_client import GraphError

    deadline = time.monotonic() + 60.0 + 2 * warmup / rate_hz
    while (answered := sum(f.action is not None for f in probe.frames)) < warmup:
        if time.monotonic() > deadline:
            raise GraphError(
                f"warm-up needs {warmup} answered frames; the graph answered {answered} "
                f"of {len(probe.frames)} sent"
            )
        time.sleep(0.05)
    return len(probe.frames)


def run_backend(
    backend: str,
    frames: list[np.ndarray],
    proprio: list[np.ndarray],
    ticks: int,
    warmup: int,
    rate_hz: float,
    instruction: str,
    model_dir: str = "",
    device: str = "cpu",
    planner_overrides: dict | None = None,
) -> dict:
    """Time `ticks` frames (after `warmup` answered ones) through a fresh graph on `backend`."""
    from vla_wm_ros.control.model_runtime import load_model_runtime
    from vla_wm_ros.ros.graph import GraphArguments, describe, load_profile
    from vla_wm_ros.ros.graph_client import GraphClient, GraphError
    from vla_wm_ros.ros.in_process import InProcessGraph
    from vla_wm_ros.ros.loop_probe import LoopProbe

    args = GraphArguments(
        sim="none", backend=backend, model_dir=model_dir, device=device, control_frequency=rate_hz
    )
    profile = load_profile("none")
    overrides = {"planner": {"trigger": "belief", **(planner_overrides or {})}}
    start = time.monotonic()
    with InProcessGraph(describe(args, overrides)) as graph:
        setup_s = time.monotonic() - start
        probe = LoopProbe(
            frames,
            proprio,
            rate_hz,
            (profile.image, profile.joint_states, profile.action_sink.topic),
            context=graph.context,
        )
        graph.add(probe)
        graph.start()
        client = GraphClient(context=graph.context)
        try:
            reply = client.set_goal(instruction)
            if not reply.accepted:
                raise GraphError(f"instruction {instruction!r} refused: {reply.message}")
            probe.start()
            first = _after_warmup(probe, warmup, rate_hz)
            while len(probe.frames) < first + ticks:
                time.sleep(0.05)
            probe.stop()
            time.sleep(3.0 / rate_hz)  # let the last frames' answers arrive
        finally:
            client.close()
            graph.remove(probe)
            probe.destroy_node()
    units = load_model_runtime(model_dir, device, backend).units  # the graph's, cached
    report = summarise(probe.frames[first : first + ticks], 1e3 / rate_hz)
    report["backend"] = units.backend
    report["setup_s"] = round(setup_s, 2)
    report["engine_cache_hit"] = units.cache_hit
    report["parity_max_abs_error"] = units.parity
    return report
