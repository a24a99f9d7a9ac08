"""One DAgger rollout: the actor (or, with probability beta, the expert) drives, the
scripted expert labels every frame, and the belief features the actor acted on are kept.

The features come from the rollout's own `ActorController`, which filters each frame
with the action executed before it (posterior mode, from the episode's first frame): the
runtime's belief filter. The world model is frozen during DAgger, so these are the
features the actor is later trained on; no frame is filtered twice.

`to_episode` turns a rollout into the collector's `Episode` (row t: observation t, the
action executed at t, the reward and success that action earned), policy "dagger", so
`vla-wm dagger --record` writes data `vla-wm train-value` and `vla-wm train` can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vla_wm_ros.data import layout as L
from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.layout import DatasetError
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter
from vla_wm_ros.evaluation.actor_rollout import ActorController
from vla_wm_ros.models.world_model import WorldModel

DAGGER_POLICY = "dagger"  # the policy name of recorded DAgger episodes


@dataclass
class RelabelledRollout:
    """Per-step arrays of one rollout; row t is the frame observed at step t."""

    task: str
    seed: int
    feature: np.ndarray  # (T, F) belief feature the actor acted on at t
    label: np.ndarray  # (T, A) the expert's action at t
    executed: np.ndarray  # (T, A) the action sent to the simulator at t
    reward: np.ndarray  # (T,) reward earned by executed[t]
    success: np.ndarray  # (T,) the task is solved after step t
    proprio: np.ndarray  # (T, P)
    images: np.ndarray | None = None  # (T, H, W, 3) uint8, kept only for recording
    env_state: np.ndarray | None = None  # (T, S) float32, kept only for recording

    @property
    def won(self) -> bool:
        return bool(self.success.any())

    def to_episode(self, instruction: str, fps: float) -> Episode:
        """The collector's Episode of this rollout (needs the frames: keep_frames=True)."""
        if self.images is None:
            raise ValueError("to_episode: this rollout kept no frames (keep_frames=False)")
        length = len(self.executed)
        done = np.zeros(length, dtype=bool)
        done[-1] = True
        return Episode(
            images=self.images,
            state=self.proprio,
            action=self.executed,
            reward=self.reward,
            success=self.success,
            done=done,
            terminated=np.zeros(length, dtype=bool),
            timestamp=(np.arange(length) / fps).astype(np.float32),
            instruction=instruction,
            task=self.task,
            environment_state=self.env_state,
            seed=self.seed,
            policy=DAGGER_POLICY,
        )


def relabelled_rollout(
    wm: WorldModel,
    env,
    goal: np.ndarray,
    seed: int,
    beta: float,
    rng: np.random.Generator,
    keep_frames: bool = False,
) -> RelabelledRollout:
    """One episode of env.max_steps steps driven by actor/expert mixing in `env` (a
    MetaWorldEnv) from placement `seed`; `keep_frames` keeps images and simulator state."""
    from vla_wm_ros.sim.policies import expert_action

    controller = ActorController(wm, goal)
    obs = env.reset(seed=seed)
    keys = ("feature", "label", "executed", "reward", "success", "proprio", "images", "env")
    rows: dict[str, list] = {k: [] for k in keys}
    for _ in range(env.max_steps):
        if keep_frames:
            rows["images"].append(obs.image)
            rows["env"].append(env.state.astype(np.float32))
        rows["proprio"].append(obs.proprio.astype(np.float32))
        own = controller.act(obs.image, obs.proprio)
        rows["feature"].append(wm.feature(controller.state)[0].numpy().copy())
        label = np.asarray(expert_action(env, obs), dtype=np.float32)
        rows["label"].append(label)
        executed = label if rng.random() < beta else own
        controller.prev_action = torch.as_tensor(executed, dtype=torch.float32)[None]
        result = env.step(executed)
        rows["executed"].append(np.asarray(executed, dtype=np.float32))
        rows["reward"].append(result.reward)
        rows["success"].append(result.success)
        obs = result.obs
    return RelabelledRollout(
        task=env.task,
        seed=seed,
        feature=np.stack(rows["feature"]).astype(np.float32),
        label=np.stack(rows["label"]),
        executed=np.stack(rows["executed"]),
        reward=np.asarray(rows["reward"], dtype=np.float32),
        success=np.asarray(rows["success"], dtype=bool),
        proprio=np.stack(rows["proprio"]),
        images=np.stack(rows["images"]) if keep_frames else None,
        env_state=np.stack(rows["env"]) if keep_frames else None,
    )


def record_spec(
    task: str, image_size: int, camera: str, goal_marker_radius: float | None
) -> DatasetSpec:
    """The dataset spec of recorded rollouts: the collector's, for the same scenes."""
    from vla_wm_ros.data.collect import dataset_spec

    return dataset_spec(task, image_size, camera, goal_marker_radius)


def check_record_target(root: str | Path, spec: DatasetSpec) -> None:
    """Refuse a --record target whose episodes could not be appended to."""
    root = Path(root)
    if not root.exists() or L.is_empty_dir(root):
        return
    existing = EpisodeDataset(root)
    problems = existing.spec.mismatches(spec) if existing.is_ours else ["written by another tool"]
    existing.close()
    if problems:
        raise DatasetError(f"{root}: cannot record into it: " + "; ".join(problems))


def record_rollouts(
    root: str | Path, spec: DatasetSpec, rollouts: list[RelabelledRollout], instructions: dict
) -> None:
    """Append one round's rollouts to the dataset at `root` (created by the first round)."""
    with DatasetWriter(root, spec, append=True) as writer:
        for rollout in rollouts:
            writer.add(rollout.to_episode(instructions[rollout.task], spec.fps))
