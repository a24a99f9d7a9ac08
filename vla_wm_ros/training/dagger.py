"""Expert relabelling of the actor's own rollouts (DAgger) on top of behaviour cloning.

Behaviour cloning only sees states the expert visits; the actor's small errors take it
to states no demonstration covers, and it fails there (compounding error). In the
simulator the scripted expert can label any state, so each round rolls the current actor
out (executing the expert's action instead with probability beta, halved every round),
records what the belief filter saw (image, proprio, the action actually executed) with
the expert's action as the label, adds these episodes to the aggregate, and trains the
actor on the aggregate plus the original expert demonstrations. The world model stays
frozen: features come from the same RSSM filter the runtime uses.

Rollout placements are seeds no collector or evaluation uses (2**31 + 10**7 + ...).
Under torchrun each process runs every world_size-th rollout of a round (placements fixed
by task and number, as in one process), all processes then hold the whole aggregate, and
the actor updates are data-parallel (training/distributed.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.data.loader import Embedder, SequenceLoader
from vla_wm_ros.evaluation.actor_rollout import ActorController, actor_env
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.sim.observation import ObservationSpec
from vla_wm_ros.training import distributed
from vla_wm_ros.training.loop import clip_step
from vla_wm_ros.training.stages import behaviour_cloning_loss

DAGGER_SEED_BASE = 2**31 + 10**7  # placements apart from `vla-wm eval actor`'s (2**31 + n)


@dataclass
class DaggerConfig:
    rounds: int = 2
    episodes_per_task: int = 6
    max_steps: int = 120
    beta: float = 0.5  # probability of executing the expert's action in round 0
    bc_steps: int = 800  # actor updates per round
    batch_size: int = 16
    seq_len: int = 32
    lr: float = 3e-4
    grad_clip: float = 100.0
    seed: int = 0

    def validate(self) -> None:
        if self.rounds <= 0 or self.episodes_per_task <= 0 or self.bc_steps <= 0:
            raise ConfigError(f"dagger: rounds, episodes_per_task, bc_steps must be > 0: {self}")
        if self.max_steps < self.seq_len:
            raise ConfigError("dagger: max_steps must be >= seq_len (windows come from episodes)")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"dagger: beta must be in [0, 1], got {self.beta}")
        if not 0 <= self.seed < 2000:  # placement seeds stay below 2**32
            raise ConfigError(f"dagger: seed must be in [0, 2000), got {self.seed}")


def relabelled_rollout(
    wm: WorldModel, env, goal: np.ndarray, seed: int, beta: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], bool]:
    """One episode driven by actor/expert mixing; arrays in the loader's time alignment
    (row t: observation t, the action executed before it, the expert's label at t)."""
    from vla_wm_ros.sim.policies import expert_action

    controller = ActorController(wm, goal)
    obs = env.reset(seed=seed)
    rows: dict[str, list] = {k: [] for k in ("image", "proprio", "prev_action", "action")}
    success = False
    for _ in range(env.max_steps):
        rows["image"].append(obs.image.transpose(2, 0, 1))
        rows["proprio"].append(obs.proprio.astype(np.float32))
        rows["prev_action"].append(controller.prev_action[0].numpy().copy())
        own = controller.act(obs.image, obs.proprio)
        label = expert_action(env, obs)
        rows["action"].append(label.astype(np.float32))
        executed = label if rng.random() < beta else own
        controller.prev_action = torch.as_tensor(executed, dtype=torch.float32)[None]
        result = env.step(executed)
        success = success or result.success
        obs = result.obs
    arrays = {k: np.stack(v) for k, v in rows.items()}
    return arrays, success


def _window_batch(
    episodes: list[dict[str, np.ndarray]], cfg: DaggerConfig, rng: np.random.Generator
) -> dict[str, Tensor]:
    rows: dict[str, list[np.ndarray]] = {}
    for pick in rng.integers(0, len(episodes), cfg.batch_size):
        episode = episodes[pick]
        length = episode["action"].shape[0]
        start = int(rng.integers(0, length - cfg.seq_len + 1))
        for key, value in episode.items():
            rows.setdefault(key, []).append(value[start : start + cfg.seq_len])
        first = np.zeros(cfg.seq_len, dtype=bool)
        first[0] = start == 0
        rows.setdefault("is_first", []).append(first)
    batch = {k: torch.from_numpy(np.stack(v)) for k, v in rows.items()}
    batch["reward"] = torch.zeros(batch["is_first"].shape)
    batch["is_terminal"] = torch.zeros(batch["is_first"].shape, dtype=torch.bool)
    return batch


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
    observation: ObservationSpec | None = None,
) -> dict:
    """Run the rounds in place on `wm.actor`; returns per-round rollout success and loss.
    `on_round` sees each round's report once its actor updates are done (e.g. to save the
    weights of every round: a round's rollout success swings, so the last is not always
    the best). Rollouts are rendered as `observation` says: the checkpoint's
    (sim/observation.py; default: Meta-World's defaults at the model's image size)."""
    from tqdm import tqdm

    from vla_wm_ros.language.suite import load_suite

    cfg.validate()
    if observation is None:
        observation = ObservationSpec(image_size=wm.cfg.encoder.image_size)
    suite = load_suite()
    goals = dict(zip(tasks, embedder([suite.task(t).canonical for t in tasks]), strict=True))
    # Data-parallel (torchrun): each process runs every world_size-th rollout and its share
    # of each batch; the rollouts are gathered everywhere, the gradients averaged.
    rank, size = distributed.rank(), distributed.world_size()
    show = progress and rank == 0
    local = dataclasses.replace(
        cfg, batch_size=distributed.per_rank_batch(cfg.batch_size, "dagger")
    )
    demos = SequenceLoader(
        data,
        local.batch_size,
        cfg.seq_len,
        "train",
        seed=cfg.seed + 7 + 7919 * rank,
        val_fraction=val_fraction,
        embedder=embedder,
        policies=demo_policies,
        split_seed=split_seed,
        cache_episodes=512,  # every demonstration stays decoded: no parquet reads per batch
        shard=(rank, size),
    )
    rng = np.random.default_rng(cfg.seed + 7919 * rank)
    params = list(wm.actor.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, eps=1e-6)
    aggregate: list[dict[str, np.ndarray]] = []
    report = []
    for r in range(cfg.rounds):
        beta = cfg.beta * 0.5**r
        start = time.perf_counter()
        wins: dict[str, list[bool]] = {}
        jobs = [(i, n) for i in range(len(tasks)) for n in range(cfg.episodes_per_task)]
        mine = jobs[rank::size]
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
                    arrays, won = relabelled_rollout(wm, env, goals[task], seed, beta, rng)
                    arrays["goal"] = np.broadcast_to(
                        goals[task], (len(arrays["action"]), len(goals[task]))
                    )
                    done.append(((i, n), arrays, won))
                    bar.update(1)
        bar.close()
        torch.set_num_threads(threads)
        for (i, _), arrays, won in sorted(
            (item for part in distributed.all_gather(done) for item in part), key=lambda x: x[0]
        ):
            aggregate.append(arrays)
            wins.setdefault(tasks[i], []).append(won)
        rollout_s = time.perf_counter() - start
        losses = []
        for _ in tqdm(range(cfg.bc_steps), desc=f"dagger {r} actor", disable=not show):
            loss = behaviour_cloning_loss(wm, _window_batch(aggregate, local, rng))
            loss = loss + behaviour_cloning_loss(wm, demos.sample())
            clip_step(loss, opt, params, cfg.grad_clip)
            losses.append(distributed.mean_terms({"loss": float(loss.detach())})["loss"])
        report.append(
            {
                "round": r,
                "beta": beta,
                "rollout_success": {t: float(np.mean(v)) for t, v in wins.items()},
                "episodes_aggregated": len(aggregate),
                "bc_loss_first": losses[0],
                "bc_loss_last": float(np.mean(losses[-20:])),
                "rollout_s": round(rollout_s, 1),
                "train_s": round(time.perf_counter() - start - rollout_s, 1),
            }
        )
        if on_round is not None:
            on_round(report[-1])
    return {"rounds": report, "config": cfg.__dict__, "observation": observation.to_meta()}
