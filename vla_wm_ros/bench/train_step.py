"""Training throughput per stage: frames/s, and where a step's time goes.

For one dataset and training preset, every variant gets its own world model (same seed)
and loader, and their optimiser steps are timed interleaved, round robin, so a change in
the load of a shared machine hits every variant alike: compare the ratios of one run.
Stage 2 (world model, most of the training time) is split into data, forward, backward
and optimiser; the other stages into data and compute. frames/s = B x T / step time.

Variants (cumulative, `SpeedConfig` values): `baseline` is the loader and precision the
trainer used before (LRU episode cache, fp32, contiguous), then `preload` (FrameStore),
`channels_last`, `bf16` (bf16 autocast over the conv stacks; the trainer's default on a
CPU with native bf16) and `compiled` (bf16 plus torch.compile of the RSSM filter step);
`trainer` is the preset's own `speed` section as `vla-wm train` resolves it on this CPU.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import torch

from vla_wm_ros.data.frame_store import FrameStore
from vla_wm_ros.data.loader import Embedder, SequenceLoader, split_episodes
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.latency import latency_summary
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training import stages as S
from vla_wm_ros.training.config import SpeedConfig, StageConfig, TrainConfig
from vla_wm_ros.training.speed import apply_speed
from vla_wm_ros.training.trainer import model_config

VARIANTS: dict[str, SpeedConfig] = {
    "baseline": SpeedConfig(preload=False, channels_last=False, bf16_convs="off"),
    "preload": SpeedConfig(preload=True, channels_last=False, bf16_convs="off"),
    "channels_last": SpeedConfig(preload=True, channels_last=True, bf16_convs="off"),
    "bf16": SpeedConfig(preload=True, channels_last=True, bf16_convs="on"),
    "compiled": SpeedConfig(preload=True, channels_last=True, bf16_convs="on"),
}
STAGE_NAMES = ("world_model", "temporal", "dynamics", "actor_critic_bc", "actor_critic_ac")


class _TimedLoader:
    """A loader whose `sample` adds its wall time to `seconds` (the data share of a step)."""

    def __init__(self, loader: SequenceLoader) -> None:
        self.loader = loader
        self.seconds = 0.0

    def sample(self) -> dict[str, torch.Tensor]:
        t0 = time.perf_counter()
        batch = self.loader.sample()
        self.seconds += time.perf_counter() - t0
        return batch


@dataclasses.dataclass
class _Case:
    """One (stage, variant, threads) combination: a zero-argument step returning its phases."""

    stage: str
    variant: str
    threads: int
    frames: int
    step: Callable[[], dict[str, float]]
    samples: list[dict[str, float]] = dataclasses.field(default_factory=list)


def _world_model_step(wm: WorldModel, loader: _TimedLoader, cfg: TrainConfig):
    """Stage 2's step (as `stages.world_model_step`) with each phase timed."""
    parts = (wm.encoder, wm.rssm, wm.decoder, wm.reward_head, wm.continue_head)
    params = [p for m in parts for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.world_model.lr, eps=1e-6)

    def step() -> dict[str, float]:
        wm.train()
        t0 = time.perf_counter()
        batch = loader.sample()
        t1 = time.perf_counter()
        loss = wm.world_model_loss(batch).total
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        t4 = time.perf_counter()
        return {"data": t1 - t0, "forward": t2 - t1, "backward": t3 - t2, "optimizer": t4 - t3}

    return step


def _stage_step(stage: str, wm: WorldModel, loaders: dict, cfg: TrainConfig):
    """The trainer's own step closure for the other stages, timed as data + compute."""
    main = loaders["main"]
    if stage == "temporal":
        inner, index = S.temporal_step(wm, main, cfg)[0], [0]
    elif stage == "dynamics":
        models = S.dynamics_models(wm, cfg.dynamics_kinds)
        inner, index = S.dynamics_step(wm, main, cfg, models)[0], [0]
    else:
        ac = cfg.actor_critic
        inner = S.actor_critic_step(wm, main, loaders["demos"], cfg, ac)[0]
        index = [0 if stage == "actor_critic_bc" else ac.bc_steps]

    def step() -> dict[str, float]:
        main.seconds = loaders["demos"].seconds = 0.0
        t0 = time.perf_counter()
        inner(index[0])
        total = time.perf_counter() - t0
        index[0] += 1
        data = main.seconds + loaders["demos"].seconds
        return {"data": data, "compute": total - data}

    return step


def _stage_config(cfg: TrainConfig, stage: str) -> StageConfig:
    return getattr(cfg, "actor_critic" if stage.startswith("actor_critic") else stage)


def build_cases(
    data: str,
    cfg: TrainConfig,
    stages: list[str],
    variants: list[str],
    threads: list[int],
    embedder: Embedder,
    seed: int = 0,
) -> list[_Case]:
    """Every (stage, variant, threads) case, with models, optimisers and loaders built."""
    valid = {*VARIANTS, "trainer"}
    unknown = sorted(set(variants) - valid) + sorted(set(stages) - set(STAGE_NAMES))
    if unknown:
        raise ValueError(
            f"unknown variant/stage {', '.join(unknown)}; variants: {', '.join(sorted(valid))}; "
            f"stages: {', '.join(STAGE_NAMES)}"
        )
    dataset = EpisodeDataset(data)
    goal_dim = int(embedder(["probe"]).shape[1])
    mcfg = model_config(cfg, dataset, goal_dim)
    train_eps = split_episodes(dataset.num_episodes, cfg.val_fraction, cfg.seed)[0]
    speeds = {v: cfg.speed if v == "trainer" else VARIANTS[v] for v in variants}
    needs_store = any(s.preload for s in speeds.values())
    store = FrameStore(dataset, train_eps) if needs_store else None
    cases = []
    for stage in stages:
        scfg = _stage_config(cfg, stage)
        for variant in variants:
            speed = speeds[variant]
            for n in threads:
                torch.manual_seed(seed)
                wm = WorldModel(mcfg)
                apply_speed(wm, speed)
                if variant == "compiled":
                    wm.rssm._obs_step = torch.compile(wm.rssm._obs_step, dynamic=False)

                def loader(policies=None, offset=0, scfg=scfg, speed=speed) -> _TimedLoader:
                    return _TimedLoader(
                        SequenceLoader(
                            data,
                            scfg.batch_size,
                            scfg.seq_len,
                            "train",
                            seed=seed + offset,
                            val_fraction=cfg.val_fraction,
                            cache_episodes=cfg.loader_cache_episodes,
                            embedder=embedder,
                            policies=policies,
                            split_seed=cfg.seed,
                            store=store if speed.preload else None,
                        )
                    )

                if stage == "world_model":
                    step = _world_model_step(wm, loader(), cfg)
                else:
                    demos = cfg.actor_critic.demo_policies
                    loaders = {"main": loader(), "demos": loader(tuple(demos), 10)}
                    step = _stage_step(stage, wm, loaders, cfg)
                frames = scfg.batch_size * scfg.seq_len
                cases.append(_Case(stage, variant, n, frames, step))
    return cases


def run_cases(cases: list[_Case], steps: int, warmup: int, progress=None) -> None:
    """Warm every case up, then time `steps` rounds, one step of every case per round."""
    for rounds, keep in ((warmup, False), (steps, True)):
        for _ in range(rounds):
            for case in cases:
                torch.set_num_threads(case.threads)
                phases = case.step()
                if keep:
                    case.samples.append(phases)
                if progress is not None:
                    progress.update(1)


def summarise(cases: list[_Case]) -> dict:
    """Per stage: every variant's frames/s and mean phase seconds, and speed-ups vs baseline."""
    out: dict[str, dict] = {}
    for case in cases:
        totals = [sum(s.values()) for s in case.samples]
        lat = latency_summary([t * 1e3 for t in totals])
        phases = {k: float(np.mean([s[k] for s in case.samples])) for k in case.samples[0]}
        mean_total = float(np.mean(totals))
        entry = {
            "variant": case.variant,
            "threads": case.threads,
            "frames_per_step": case.frames,
            "step_ms_p50": lat["p50_ms"],
            "step_ms_mean": lat["mean_ms"],
            "frames_per_s": case.frames / (lat["p50_ms"] / 1e3),
            "phase_s": phases,
            "phase_share": {k: v / mean_total for k, v in phases.items()},
        }
        out.setdefault(case.stage, {"variants": []})["variants"].append(entry)
    for stage in out.values():
        by = {(v["variant"], v["threads"]): v for v in stage["variants"]}
        base = {t: v for (name, t), v in by.items() if name == "baseline"}
        for v in stage["variants"]:
            if v["threads"] in base:
                v["speedup_vs_baseline"] = v["frames_per_s"] / base[v["threads"]]["frames_per_s"]
        stage["best"] = max(stage["variants"], key=lambda v: v["frames_per_s"])
    return out


def profile_world_model(data: str, cfg: TrainConfig, embedder: Embedder, top: int = 12) -> list:
    """torch.profiler over a few stage-2 steps with the trainer's settings: top ops by self CPU."""
    from torch.profiler import ProfilerActivity, profile

    threads = [torch.get_num_threads()]
    case = build_cases(data, cfg, ["world_model"], ["trainer"], threads, embedder)[0]
    case.step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(2):
            case.step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {
            "op": e.key,
            "self_ms_per_step": e.self_cpu_time_total / 2e3,
            "share": e.self_cpu_time_total / total,
            "calls_per_step": e.count / 2,
        }
        for e in events[:top]
    ]
