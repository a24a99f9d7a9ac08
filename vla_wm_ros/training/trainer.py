"""`train()`: the stages in order over one dataset, resumable, one checkpoint per stage.

Output directory:
  model/               the world model after the last finished stage (safetensors + YAML),
                       plus dynamics_<kind>.safetensors for the other stage-3 models
  train_config.yaml    the settings of the run (a resumed run uses these)
  run.yaml             finished stages with their steps and wall time, the split, the
                       dataset's size (a resume on other data is refused), speed settings,
                       the goal encoder and the images' rendering (`observation`), both
                       also in model/meta.yaml
  train_state/<stage>  resumable state of the running stage
  curves/<stage>.csv   logged loss terms; tensorboard/  the same as TensorBoard scalars

Under torchrun (training/distributed.py) every process trains on its shard of the
training episodes with its share of each stage's batch_size (the global batch), the
gradients averaged after every backward; rank 0 alone writes the files above.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from vla_wm_ros.config.loader import load_yaml, save_yaml
from vla_wm_ros.config.model import WorldModelConfig, load_preset
from vla_wm_ros.data.frame_store import FrameStore
from vla_wm_ros.data.layout import ENV_STATE
from vla_wm_ros.data.loader import Embedder, SequenceLoader, default_embedder, split_episodes
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.language.encoder import SentenceEncoder
from vla_wm_ros.language.goal_space import META_KEY, GoalSpace
from vla_wm_ros.models.checkpoint import load_checkpoint, save_checkpoint, write_manifest
from vla_wm_ros.models.world_model import WorldModel
from vla_wm_ros.sim import observation
from vla_wm_ros.training import distributed
from vla_wm_ros.training import stages as S
from vla_wm_ros.training.config import STAGES, StageConfig, TrainConfig
from vla_wm_ros.training.init_model import initial_model
from vla_wm_ros.training.loop import RunContext, run_stage
from vla_wm_ros.training.speed import apply_speed

MODEL_DIR = "model"


class TrainError(RuntimeError):
    pass


def model_config(cfg: TrainConfig, dataset: EpisodeDataset, goal_dim: int) -> WorldModelConfig:
    """The preset with the sizes the data dictates (action, proprio, goal, image)."""
    model = load_preset(cfg.model)
    spec = dataset.spec
    if spec.image_shape[0] != spec.image_shape[1]:
        raise TrainError(
            f"{dataset.root}: images must be square, got {spec.image_shape}; "
            "make a square copy with `vla-wm data import --image-size 64`"
        )
    encoder = dataclasses.replace(model.encoder, image_size=spec.image_shape[0])
    loss = model.loss
    if cfg.environment_state_loss:
        loss = dataclasses.replace(loss, state=cfg.environment_state_loss)
    if cfg.view_state_loss:
        loss = dataclasses.replace(loss, view_state=cfg.view_state_loss)
    wants_state = bool(loss.state or loss.view_state)
    if wants_state and not spec.environment_state_dim:
        raise TrainError(
            f"{dataset.root}: has no observation.environment_state for the state loss "
            "(loss.state / environment_state_loss, loss.view_state / view_state_loss); "
            "simulator data from `vla-wm collect` has it"
        )
    out = dataclasses.replace(
        model,
        action_dim=spec.action_dim,
        proprio_dim=spec.state_dim,
        goal_dim=goal_dim,
        environment_state_dim=spec.environment_state_dim if wants_state else 0,
        encoder=encoder,
        loss=loss,
    )
    out.validate()
    return out


def _run_file(out: Path) -> dict:
    path = out / "run.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else {"stages": {}}


def _prepare(out: Path, cfg: TrainConfig, resume: bool) -> TrainConfig:
    saved = out / "train_config.yaml"
    if saved.is_file():
        if not resume:
            raise TrainError(
                f"{out}: holds a training run already; pass --resume to continue it or "
                "choose another --out"
            )
        return load_yaml(TrainConfig, saved)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, saved)
    return cfg


def _set_state_loss_units(wm: WorldModel, cfg: TrainConfig, dataset: EpisodeDataset) -> None:
    """The state heads' loss units from the run's config (a training setting, not saved)."""
    heads = wm.state_heads().values()
    if not heads:
        return
    size = wm.cfg.environment_state_dim
    outside = [d for d in cfg.state_dims if d >= size]
    if outside:
        raise TrainError(f"state_dims {outside}: the environment state has {size} dimensions")
    std = dataset.moments()[ENV_STATE].std
    for head in heads:
        head.set_loss_units(std, cfg.state_dims, cfg.state_resolution)


def train(
    data: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    stages: list[str] | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    embedder: Embedder | None = None,
) -> dict:
    """Run the requested stages (all by default) that are not finished yet."""
    out = Path(out)
    stages = list(STAGES) if stages is None else stages
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise TrainError(f"unknown stage(s) {', '.join(unknown)}; valid: {', '.join(STAGES)}")
    if distributed.is_main():
        cfg = _prepare(out, cfg, resume)
    distributed.barrier()  # the others read the run's settings once rank 0 wrote them
    if not distributed.is_main():
        cfg = load_yaml(TrainConfig, out / "train_config.yaml")
    embed = embedder or default_embedder()
    dataset = EpisodeDataset(data)
    goal_dim = int(embed(["probe"]).shape[1])
    mcfg = model_config(cfg, dataset, goal_dim)
    run = _run_file(out)
    encoder = getattr(embed, "__self__", None)  # the default: a SentenceEncoder's embed
    if isinstance(encoder, SentenceEncoder):
        space = GoalSpace.of_encoder(encoder).to_meta()
        if run.get(META_KEY, space)["id"] != space["id"]:
            raise TrainError(
                f"{out}: trained with goals from {run[META_KEY]['name']} (id "
                f"{run[META_KEY]['id']}); resuming with {space['name']} (id {space['id']}) "
                "would mix two goal spaces"
            )
        run[META_KEY] = space
    _record_observation(out, run, dataset)
    # Every stage trains on the same split; evaluation uses the held-out episodes.
    train_eps, held_out = split_episodes(dataset.num_episodes, cfg.val_fraction, cfg.seed)
    _check_same_data(out, run, dataset)
    run["split"] = {"seed": cfg.seed, "val_fraction": cfg.val_fraction, "val_episodes": held_out}
    run["dataset"] = {"episodes": dataset.num_episodes, "frames": dataset.num_frames}
    torch.manual_seed(cfg.seed)
    if (out / MODEL_DIR).is_dir():
        wm = load_checkpoint(out / MODEL_DIR)
    else:
        wm = initial_model(mcfg, cfg.init_from, dataset)
    _set_state_loss_units(wm, cfg, dataset)
    if cfg.init_from:
        run["started_from"] = cfg.init_from
    run["speed"] = apply_speed(wm, cfg.speed)
    (out / "run.yaml").write_text(yaml.safe_dump(run, sort_keys=False))
    store = FrameStore(dataset, train_eps, progress) if cfg.speed.preload else None
    ctx = RunContext(out, cfg.checkpoint_every, cfg.log_every, progress, stop_after)

    def loader(stage: StageConfig, index: int, policies=None) -> SequenceLoader:
        return SequenceLoader(
            data,
            distributed.per_rank_batch(stage.batch_size, f"stage {index}"),
            stage.seq_len,
            "train",
            seed=cfg.seed + 101 * index + 7919 * distributed.rank(),
            val_fraction=cfg.val_fraction,
            cache_episodes=cfg.loader_cache_episodes,
            embedder=embed,
            policies=policies,
            split_seed=cfg.seed,
            shard=(distributed.rank(), distributed.world_size()),
            store=store,
        )

    try:
        for index, stage in enumerate(STAGES):
            if stage not in stages or stage in run["stages"]:
                continue
            scfg = getattr(cfg, stage)
            if stage == "temporal" and wm.temporal is None:
                print("[train] temporal: skipped (temporal.kind is 'none')", file=sys.stderr)
                continue
            torch.manual_seed(cfg.seed + index + 7919 * distributed.rank())
            main = loader(scfg, index)
            rngs = {"main": main.rng}
            extras = {}
            if stage == "temporal":
                built = S.temporal_step(wm, main, cfg)
            elif stage == "world_model":
                built = S.world_model_step(wm, main, cfg)
            elif stage == "dynamics":
                extras = S.dynamics_models(wm, cfg.dynamics_kinds)
                built = S.dynamics_step(wm, main, cfg, extras)
            else:
                demos = loader(scfg, index + 10, tuple(scfg.demo_policies))
                rngs["demos"] = demos.rng
                built = S.actor_critic_step(wm, main, demos, cfg, scfg)
            step, modules, optimizers = built
            summary = run_stage(ctx, stage, scfg.steps, step, modules, optimizers, rngs)
            if distributed.is_main():
                _finish_stage(out, wm, stage, summary, extras, run, data)
            else:
                run["stages"][stage] = {"steps": summary["steps"]}
            distributed.barrier()
    finally:
        ctx.close()
    return run


def _record_observation(out: Path, run: dict, dataset: EpisodeDataset) -> None:
    """The rendering of the training images, for whatever renders for the checkpoint."""
    seen = observation.ObservationSpec.of_dataset(dataset.spec).to_meta()
    before = run.get(observation.META_KEY, seen)
    if before != seen:
        raise TrainError(
            f"{out}: trained on images rendered as {before}; {dataset.root} is rendered as "
            f"{seen}: one model would learn from two renderings"
        )
    run[observation.META_KEY] = seen


def _check_same_data(out: Path, run: dict, dataset: EpisodeDataset) -> None:
    """A resumed run must see the dataset it started on: an append would move the split."""
    before = run.get("dataset")
    now = {"episodes": dataset.num_episodes, "frames": dataset.num_frames}
    if before is not None and before != now:
        raise TrainError(
            f"{out}: the run started on {before['episodes']} episodes / {before['frames']} "
            f"frames of {dataset.root}, which now holds {now['episodes']} / {now['frames']}; "
            "its train/validation split would change. Re-create the data as the run was "
            "started (models/MODEL_CARD.md) or train into a new --out"
        )


def _finish_stage(
    out: Path, wm: WorldModel, stage: str, summary: dict, extras: dict, run: dict, data
) -> None:
    run["stages"][stage] = {
        "steps": summary["steps"],
        "wall_s": summary["wall_s"],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "last": {k: round(float(v), 5) for k, v in summary["last"].items()},
    }
    run["data"] = str(Path(data).absolute())
    keys = ("stages", "data", "split", "started_from", META_KEY, observation.META_KEY)
    meta = {k: run[k] for k in keys if k in run}
    save_checkpoint(wm, out / MODEL_DIR, extra=meta)
    for kind, model in extras.items():
        if model is not wm.dynamics:
            tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
            save_file(tensors, str(out / MODEL_DIR / f"dynamics_{kind}.safetensors"))
    write_manifest(out / MODEL_DIR)  # the dynamics files came after save_checkpoint's
    (out / "run.yaml").write_text(yaml.safe_dump(run, sort_keys=False))
