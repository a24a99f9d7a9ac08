"""Fitting the offline value (models/offline_value.py) on a frozen world model.

Every recorded episode is filtered once by the frozen world model (posterior mode, as the
runtime's state estimator does), giving transitions (f_t, a_t, r_t, f_{t+1}, goal) with
the simulator's reward r_t (`next.reward` of row t); they are kept in one safetensors
file in the run directory (with what they were filtered from), so a resumed run, or a new
run given that file, does not filter again (training/value_data.py). Q and V then train by
IQL on random minibatches of transitions; only the value's weights change. The run writes
a full checkpoint (`OUT/model`: the world model with its offline value) and a resumable
training state (`OUT/train_state/value/`).

Held-out episodes (the same seeded split as every stage) give the validation figures: the
TD error of the Q heads, how well V(f_t) ranks the held-out discounted returns-to-go, and
the reward head's error on the same rows.

`reward_weight` > 0 also refits the world model's reward head on these transitions (its
MSE to the simulator's reward of arriving, on the frozen posterior f_{t+1}): a head fitted
with the world model on expert data can predict a good reward where the actor's own
rollouts fail (a puck never grasped), so the planner would score a failing plan well.
"""

from __future__ import annotations

import csv
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vla_wm_ros.config.loader import ConfigError, load_yaml, save_yaml, to_dict
from vla_wm_ros.config.value import ValueConfig
from vla_wm_ros.data.loader import Embedder, split_episodes
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.models.checkpoint import (
    checkpoint_hash,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.training.loop import clip_step
from vla_wm_ros.training.state import load_state, save_state
from vla_wm_ros.training.value_data import (
    TRANSITIONS_FILE,
    Transitions,
    filter_transitions,
    load_transitions,
    returns_to_go,
    save_transitions,
    transitions_source,
)


@dataclass
class ValueTrainConfig:
    """How the offline value is fitted (the value's own sizes are in ValueConfig)."""

    steps: int = 20000
    batch_size: int = 512
    lr: float = 3e-4
    grad_clip: float = 10.0
    val_fraction: float = 0.1
    split_seed: int = 0  # the world model's run seed: the same held-out episodes
    seed: int = 0
    eval_every: int = 1000
    save_every: int = 2000
    policies: list[str] = field(default_factory=list)  # collector policies used (empty: all)
    filter_batch: int = 8  # episodes filtered together
    reward_weight: float = 0.0  # > 0: also refit the reward head (MSE weight); 0 keeps it

    def validate(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "save_every", "filter_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ConfigError(f"lr and grad_clip must be > 0, got {self.lr}, {self.grad_clip}")
        if self.reward_weight < 0:
            raise ConfigError(f"reward_weight: must be >= 0, got {self.reward_weight}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction: must be in (0, 1), got {self.val_fraction}")


@dataclass
class ValueRunConfig:
    """A `vla-wm train-value` run: the value's sizes (heads default 5) and its training."""

    value: ValueConfig = field(default_factory=lambda: ValueConfig(heads=5))
    train: ValueTrainConfig = field(default_factory=ValueTrainConfig)

    def validate(self) -> None:
        self.value.validate()
        self.train.validate()
        if self.value.heads < 2:
            raise ConfigError(f"value.heads: need >= 2 Q heads to train, got {self.value.heads}")


def with_offline_value(wm: WorldModel, cfg: ValueConfig) -> WorldModel:
    """A copy of `wm` with a freshly initialised offline value of `cfg` (the rest: wm's)."""
    fresh = WorldModel(dataclasses.replace(wm.cfg, value=cfg))
    own = {k: v for k, v in wm.state_dict().items() if not k.startswith("offline_value.")}
    missing, unexpected = fresh.load_state_dict(own, strict=False)
    stray = [k for k in missing if not k.startswith("offline_value.")]
    if stray or unexpected:
        raise ValueError(
            f"with_offline_value: tensors do not match ({stray[:3]}, {unexpected[:3]})"
        )
    return fresh.to(next(wm.parameters()).device)


def reward_error(wm: WorldModel, rows: Transitions, goals: Tensor) -> Tensor:
    """(M,) squared error of the reward head on f_{t+1} against the reward of arriving
    there (the recorded r_t): the refit's loss and the held-out figure, one definition."""
    return (wm.reward(rows.next_feature, goals) - rows.reward).square()


@torch.no_grad()
def validate_value(wm: WorldModel, data: Transitions, returns: Tensor) -> dict[str, float]:
    """Held-out figures: TD error of the Q heads (return units), spread, V vs returns-to-go,
    and the reward head's MSE against the simulator's reward of arriving."""
    value, cfg = wm.offline_value, wm.cfg.value
    goals = data.goals[data.goal_index]
    reward_mse = reward_error(wm, data, goals).mean()
    q = value.q(data.feature, data.action, goals) * cfg.value_scale
    v = value.value(data.feature, goals)
    v_next = value.value(data.next_feature, goals)
    td = data.reward + cfg.gamma * data.not_terminal * v_next
    vc = v - v.mean()
    rc = returns - returns.mean()
    corr = float((vc * rc).sum() / (vc.norm() * rc.norm()).clamp(min=1e-9))
    return {
        "td_rmse": float((q - td).square().mean().sqrt()),
        "q_spread": float(q.std(dim=0).mean()),
        "v_mean": float(v.mean()),
        "return_to_go_mean": float(returns.mean()),
        "v_return_corr": corr,
        "reward_mse": float(reward_mse),
    }


# What a resumed value run may change: how long it runs and how often it reports. Anything
# else (sizes, losses, data split, reward_weight) would not match the saved training state.
RESUME_MAY_CHANGE = ("steps", "eval_every", "save_every")


def check_resumable(run: ValueRunConfig, saved: Path) -> None:
    """Refuse to resume a run under a config that differs from the one it was started with
    (`saved`, its value_config.yaml) beyond RESUME_MAY_CHANGE, naming what changed."""
    old, new = to_dict(load_yaml(ValueRunConfig, saved)), to_dict(run)
    changed = [
        f"{part}.{key}: {old[part][key]} -> {new[part][key]}"
        for part in old
        for key in old[part]
        if key not in RESUME_MAY_CHANGE and old[part][key] != new[part][key]
    ]
    if changed:
        raise ConfigError(
            f"{saved}: a resumed run keeps the config it started with; changed "
            f"{', '.join(changed)} (only {', '.join(RESUME_MAY_CHANGE)} may change; "
            "start a new --out for the rest)"
        )


def train_value(
    ckpt: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    run: ValueRunConfig,
    embedder: Embedder,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Fit the offline value of checkpoint `ckpt` on `data_dir`; returns the run report."""
    from tqdm import tqdm

    run.validate()
    cfg, value_cfg = run.train, run.value
    out = Path(out_dir)
    state_dir = out / "train_state" / "value"
    if resume and not (state_dir / "state.safetensors").is_file():
        raise FileNotFoundError(f"{state_dir}: no training state to resume from")
    if not resume and (state_dir / "state.safetensors").is_file():
        raise FileExistsError(f"{out}: holds a value run already; pass resume or another out")
    if resume:
        check_resumable(run, out / "value_config.yaml")
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(run, out / "value_config.yaml")
    torch.manual_seed(cfg.seed)
    wm = with_offline_value(load_checkpoint(ckpt), value_cfg)
    wm.requires_grad_(False)
    value = wm.offline_value
    value.q.requires_grad_(True)
    value.v.requires_grad_(True)
    trained = {"value": value}
    if cfg.reward_weight:
        wm.reward_head.requires_grad_(True)
        trained["reward_head"] = wm.reward_head
    source = f"{checkpoint_hash(ckpt)} {Path(data_dir).resolve()} {cfg.policies}"
    dataset = EpisodeDataset(data_dir)
    train_eps, val_eps = split_episodes(dataset.num_episodes, cfg.val_fraction, cfg.split_seed)
    if cfg.policies:
        keep = set(cfg.policies)
        train_eps = [i for i in train_eps if dataset.episodes[i].policy in keep]
        val_eps = [i for i in val_eps if dataset.episodes[i].policy in keep]
    cached = out / TRANSITIONS_FILE
    started = time.perf_counter()
    if cached.is_file() and transitions_source(cached) == source:
        data = load_transitions(cached)  # same checkpoint, data and policies: no refiltering
    else:
        data = filter_transitions(
            wm, dataset, train_eps + val_eps, embedder, cfg.filter_batch, progress
        )
        save_transitions(data, cached, source)
    filter_s = time.perf_counter() - started
    val_set = set(val_eps)
    is_val = torch.tensor([int(e) in val_set for e in data.episode.tolist()])
    train, val = data.select(torch.nonzero(~is_val)[:, 0]), data.select(torch.nonzero(is_val)[:, 0])
    if len(train.reward) == 0:
        raise ValueError(f"{data_dir}: no training transitions (policies {cfg.policies or 'all'})")
    val_returns = returns_to_go(val, value_cfg.gamma)
    params = [p for m in trained.values() for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    step, curve, wall = 0, [], 0.0
    if resume:
        progress_state = load_state(state_dir, trained, {"value": opt}, {"batch": rng})
        step, wall = int(progress_state["step"]), float(progress_state["wall_s"])
    curves = out / "curves"
    curves.mkdir(exist_ok=True)
    log_path = curves / "value.csv"
    new_log = not log_path.is_file() or not resume
    log = log_path.open("w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "q", "v", "q_mean", "v_mean", "q_spread", "reward",
                         "val_td_rmse", "val_v_return_corr", "val_reward_mse"])  # fmt: skip
    t0 = time.perf_counter() - wall
    bar = tqdm(total=cfg.steps, initial=step, desc="value: IQL", disable=not progress)
    figures: dict[str, float] = {}
    try:
        while step < cfg.steps:
            value.train()
            rows = torch.from_numpy(rng.integers(0, len(train.reward), cfg.batch_size))
            batch = train.select(rows)
            goals = batch.goals[batch.goal_index]
            loss, terms = value.loss(
                batch.feature, batch.action, batch.reward, batch.next_feature, goals,
                batch.not_terminal,
            )  # fmt: skip
            if cfg.reward_weight:
                reward_loss = reward_error(wm, batch, goals).mean()
                terms["reward"] = reward_loss.detach()
                loss = loss + cfg.reward_weight * reward_loss
            clip_step(loss, opt, params, cfg.grad_clip)
            value.update_target()
            step += 1
            bar.update(1)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                value.eval()
                figures = validate_value(wm, val, val_returns) if len(val.reward) else {}
                row = {k: round(float(v), 5) for k, v in terms.items()}
                writer.writerow([step, row["q"], row["v"], row["q_mean"], row["v_mean"],
                                 row["q_spread"], row.get("reward", ""), figures.get("td_rmse", ""),
                                 figures.get("v_return_corr", ""),
                                 figures.get("reward_mse", "")])  # fmt: skip
                log.flush()
                curve.append({"step": step, **row, **{f"val_{k}": v for k, v in figures.items()}})
                bar.set_postfix_str(f"q {row['q']:.4f} v {row['v']:.4f}")
            if step % cfg.save_every == 0 or step == cfg.steps:
                save_state(
                    state_dir, trained, {"value": opt}, {"batch": rng},
                    {"step": step, "wall_s": time.perf_counter() - t0},
                )  # fmt: skip
    finally:
        bar.close()
        log.close()
    wall = time.perf_counter() - t0
    if not figures and len(val.reward):  # a resumed run that had no step left to take
        value.eval()
        figures = validate_value(wm, val, val_returns)
    meta = read_meta(ckpt)
    meta["value"] = {
        "steps": step,
        "wall_s": round(wall, 1),
        "filter_s": round(filter_s, 1),
        "data": str(Path(data_dir).resolve()),
        "policies": cfg.policies or "all",
        "train_transitions": len(train.reward),
        "val_transitions": len(val.reward),
        "started_from": str(ckpt),
        "val": figures,
        "config": dataclasses.asdict(cfg),
    }
    model_dir = out / "model"
    save_checkpoint(wm, model_dir, extra=meta)
    for extra in Path(ckpt).glob("dynamics_*.safetensors"):
        (model_dir / extra.name).write_bytes(extra.read_bytes())
    return {"model": str(model_dir), **meta["value"], "curve": curve}
