"""Expert relabelling of the actor's own rollouts (DAgger) on top of behaviour cloning.

Behaviour cloning only sees states the expert visits; the actor's small errors take it
to states no demonstration covers, and it fails there (compounding error). In the
simulator the scripted expert can label any state, so each round rolls the current actor
out (executing the expert's action instead with probability beta, halved every round),
keeps the belief features the actor acted on with the expert's action as the label, adds
these frames to the aggregate, and trains the actor on the aggregate plus the original
expert demonstrations. The world model stays frozen, so every frame's feature is fixed:
the demonstrations are filtered once before round 0 (training/frozen_features.py) and
the rollouts' features come from the rollout's own filter; the actor updates sample
(feature, goal, label) rows from memory (training/bc_features.py) and never run the
encoder or the RSSM.

With `record`, each round's rollouts are also appended to a dataset (policy "dagger",
the collector's alignment and rewards), for the offline value and the world model.

Rollout placements are seeds no collector or evaluation uses (2**31 + 10**7 + ...).
Under torchrun each process runs every world_size-th rollout of a round (placements fixed
by task and number, as in one process), all processes then hold the whole aggregate,
each filters its shard of the demonstrations, and the actor updates are data-parallel
(training/distributed.py); rank 0 records.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.data.loader import Embedder
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.evaluation.actor_rollout import actor_env
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.sim.observation import ObservationSpec
from vla_wm_ros.training import distributed
from vla_wm_ros.training.bc_features import LabelledFeatures, demo_features, feature_bc_loss
from vla_wm_ros.training.dagger_rollout import (
    RelabelledRollout,
    check_record_target,
    record_rollouts,
    record_spec,
    relabelled_rollout,
)
from vla_wm_ros.training.loop import clip_step

DAGGER_SEED_BASE = 2**31 + 10**7  # placements apart from `vla-wm eval actor`'s (2**31 + n)


@dataclass
class DaggerConfig:
    rounds: int = 2
    episodes_per_task: int = 6
    max_steps: int = 120
    beta: float = 0.5  # probability of executing the expert's action in round 0
    bc_steps: int = 800  # actor updates per round
    batch_rows: int = 512  # labelled frames per loss term and update (was 16 windows x 32)
    lr: float = 3e-4
    grad_clip: float = 100.0
    seed: int = 0

    def validate(self) -> None:
        if self.rounds <= 0 or self.episodes_per_task <= 0 or self.bc_steps <= 0:
            raise ConfigError(f"dagger: rounds, episodes_per_task, bc_steps must be > 0: {self}")
        if self.max_steps <= 0 or self.batch_rows <= 0:
            raise ConfigError(f"dagger: max_steps and batch_rows must be > 0: {self}")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"dagger: beta must be in [0, 1], got {self.beta}")
        if not 0 <= self.seed < 2000:  # placement seeds stay below 2**32
            raise ConfigError(f"dagger: seed must be in [0, 2000), got {self.seed}")


def _rollouts(
    wm: WorldModel,
    tasks: list[str],
    goals: dict[str, np.ndarray],
    cfg: DaggerConfig,
    r: int,
    rng: np.random.Generator,
    observation: ObservationSpec,
    keep_frames: bool,
    show: bool,
) -> list[tuple[tuple[int, int], RelabelledRollout]]:
    """This process's rollouts of round `r`, keyed by (task number, episode number)."""
    from tqdm import tqdm

    rank, size = distributed.rank(), distributed.world_size()
    jobs = [(i, n) for i in range(len(tasks)) for n in range(cfg.episodes_per_task)]
    mine = jobs[rank::size]
    beta = cfg.beta * 0.5**r
    bar = tqdm(total=len(mine), desc=f"dagger {r} rollouts", disable=not show)
    wm.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch-of-one filter steps: a second thread only waits
    done = []
    for i, task in enumerate(tasks):
        numbers = [n for j, n in mine if j == i]
        if not numbers:
            continue
        with actor_env(task, observation, cfg.max_steps) as env:
            for n in numbers:
                seed = DAGGER_SEED_BASE + cfg.seed * 1_000_000 + r * 10_000 + i * 100 + n
                out = relabelled_rollout(wm, env, goals[task], seed, beta, rng, keep_frames)
                done.append(((i, n), out))
                bar.update(1)
    bar.close()
    torch.set_num_threads(threads)
    return done


def dagger(
    wm: WorldModel,
    data: str,
    tasks: list[str],
    cfg: DaggerConfig,
    embedder: Embedder,
    demo_policies: tuple[str, ...] = ("expert",),
    split_seed: int = 0,
    val_fraction: float = 0.1,
    progress: bool = True,
    on_round: Callable[[dict], None] | None = None,
    record: str | Path | None = None,
    observation: ObservationSpec | None = None,
) -> dict:
    """Run the rounds in place on `wm.actor`; returns per-round rollout success and loss.
    `on_round` sees each round's report once its actor updates are done (e.g. to save the
    weights of every round: a round's rollout success swings, so the last is not always
    the best). `record`: a dataset directory every round's rollouts are appended to.
    Rollouts are rendered as `observation` says: the checkpoint's (sim/observation.py;
    default: Meta-World's defaults at the model's image size)."""
    from tqdm import tqdm

    from vla_wm_ros.language.suite import load_suite

    cfg.validate()
    if observation is None:
        observation = ObservationSpec(image_size=wm.cfg.encoder.image_size)
    suite = load_suite()
    instructions = {t: suite.task(t).canonical for t in tasks}
    goals = dict(zip(tasks, embedder(list(instructions.values())), strict=True))
    # Data-parallel (torchrun): each process runs every world_size-th rollout and its share
    # of each batch; the rollouts are gathered everywhere, the gradients averaged.
    rank, size = distributed.rank(), distributed.world_size()
    distributed.broadcast_parameters([wm.actor])  # one actor everywhere, fresh ones included
    show = progress and rank == 0
    rows = distributed.per_rank_batch(cfg.batch_rows, "dagger")
    spec = None
    if record is not None:
        spec = record_spec(
            tasks[0], observation.image_size, observation.camera, observation.goal_marker_radius
        )
        check_record_target(record, spec)
    demo_set = EpisodeDataset(data)
    marker = demo_set.spec.extra.get("goal_marker_radius")
    if marker != observation.goal_marker_radius:
        warnings.warn(
            f"dagger: the demonstrations in {data} draw the goal marker at {marker}, the "
            f"checkpoint's data at {observation.goal_marker_radius}; rollouts follow the "
            "checkpoint",
            stacklevel=2,
        )
    start = time.perf_counter()
    try:
        demos = demo_features(
            wm,
            demo_set,
            embedder,
            demo_policies,
            split_seed,
            val_fraction,
            (rank, size),
            progress=show,
        )
    finally:
        demo_set.close()
    filter_s = time.perf_counter() - start
    rng = np.random.default_rng(cfg.seed + 7919 * rank)
    demo_rng = np.random.default_rng(cfg.seed + 7 + 7919 * rank)
    params = list(wm.actor.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, eps=1e-6)
    aggregate = LabelledFeatures()
    episodes = 0
    report = []
    for r in range(cfg.rounds):
        start = time.perf_counter()
        done = _rollouts(wm, tasks, goals, cfg, r, rng, observation, record is not None, show)
        gathered = sorted(
            (item for part in distributed.all_gather(done) for item in part), key=lambda x: x[0]
        )
        wins: dict[str, list[bool]] = {}
        for _, out in gathered:
            feature, label = torch.from_numpy(out.feature), torch.from_numpy(out.label)
            aggregate.add(feature, label, instructions[out.task], goals[out.task])
            episodes += 1
            wins.setdefault(out.task, []).append(out.won)
        if record is not None and distributed.is_main():
            record_rollouts(record, spec, [out for _, out in gathered], instructions)
        del done, gathered  # the frames are recorded; only features and labels stay
        rollout_s = time.perf_counter() - start
        losses = []
        for _ in tqdm(range(cfg.bc_steps), desc=f"dagger {r} actor", disable=not show):
            loss = feature_bc_loss(wm, aggregate, rng, rows)
            loss = loss + feature_bc_loss(wm, demos, demo_rng, rows)
            clip_step(loss, opt, params, cfg.grad_clip)
            losses.append(distributed.mean_terms({"loss": float(loss.detach())})["loss"])
        train_s = time.perf_counter() - start - rollout_s
        report.append(
            {
                "round": r,
                "beta": cfg.beta * 0.5**r,
                "rollout_success": {t: float(np.mean(v)) for t, v in wins.items()},
                "episodes_aggregated": episodes,
                "bc_loss_first": losses[0],
                "bc_loss_last": float(np.mean(losses[-20:])),
                "rollout_s": round(rollout_s, 1),
                "train_s": round(train_s, 1),
                "updates_per_s": round(cfg.bc_steps / max(train_s, 1e-9), 1),
            }
        )
        if on_round is not None:
            on_round(report[-1])
    return {
        "rounds": report,
        "config": cfg.__dict__,
        "demo_filter_s": round(filter_s, 1),
        "observation": observation.to_meta(),
    }
