"""The world model as the nodes use it: loaded once per process, called with numpy.

The graph splits the observation encoder at its natural seam: camera_encoder runs the
image backbone (`image_features`) and publishes that vector; state_estimator runs the
proprioception branch, the fusion and the filter step (`BeliefFilter.update`). Composed,
the two give exactly `encoder(image, proprio)` (a test holds them equal). Both run the
control-loop units of the configured inference backend (deploy/), as the planner does.
ROS-free: numpy in, numpy out, torch inside under no_grad.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from vla_wm_ros import paths
from vla_wm_ros.deploy.deployed import DeployedModel, deploy
from vla_wm_ros.models.checkpoint import CONFIG_FILE, checkpoint_hash, load_checkpoint
from vla_wm_ros.models.rssm import RSSMState


class ModelRuntime:
    """A loaded WorldModel plus the sizes the nodes check messages against."""

    def __init__(
        self, world_model, device: torch.device, encoder_id: str, units: DeployedModel
    ) -> None:
        self.world_model = world_model.eval()
        self.device = device
        self.encoder_id = encoder_id
        self.units = units
        cfg = world_model.cfg
        self.image_size = cfg.encoder.image_size
        self.action_dim = cfg.action_dim
        self.proprio_dim = cfg.proprio_dim
        self.goal_dim = cfg.goal_dim
        self.deter_dim = world_model.rssm.deter_size
        self.stoch_dim = world_model.rssm.stoch_size
        encoder = world_model.encoder
        self.embedding_dim = encoder.image.out_dim if encoder.image is not None else 0

    @torch.no_grad()
    def image_features(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 at the model's input size -> the image backbone's output vector."""
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        out = self.units["image"](image.contiguous().to(self.device))
        return out[0].float().cpu().numpy()

    def tensor(self, values: np.ndarray) -> torch.Tensor:
        """A (1, N) float32 tensor on the model's device."""
        return torch.as_tensor(np.asarray(values, dtype=np.float32), device=self.device)[None]

    def state_from_arrays(self, deter: np.ndarray, stoch: np.ndarray) -> RSSMState:
        return RSSMState(self.tensor(deter), self.tensor(stoch))

    def split(self, feature: torch.Tensor) -> RSSMState:
        return RSSMState(feature[:, : self.deter_dim], feature[:, self.deter_dim :])

    @staticmethod
    def state_to_arrays(state: RSSMState) -> tuple[np.ndarray, np.ndarray]:
        return state.deter[0].float().cpu().numpy(), state.stoch[0].float().cpu().numpy()

    def belief_filter(self) -> BeliefFilter:
        return BeliefFilter(self)


class BeliefFilter:
    """The RSSM filter for one robot: the belief carried from tick to tick.

    update(): posterior q(z_t | h_t, e_t) with h_t = f(h_{t-1}, z_{t-1}, a_{t-1});
    predict(): the prior step alone, for a frame that did not come. The first update after
    reset() starts from the initial state (is_first), with a zero previous action.
    """

    def __init__(self, model: ModelRuntime) -> None:
        self._model = model
        self.state: RSSMState | None = None
        self.steps = 0

    @property
    def started(self) -> bool:
        return self.state is not None

    def reset(self) -> None:
        self.state = None
        self.steps = 0

    @torch.no_grad()
    def update(
        self, image_features: np.ndarray, proprio: np.ndarray, prev_action: np.ndarray
    ) -> RSSMState:
        m = self._model
        first = self.state is None
        # The initial state is zeros, and the first step's previous action is zero.
        prev = m.world_model.rssm.initial(1, m.device) if first else self.state
        action = torch.zeros(1, m.action_dim, device=m.device) if first else m.tensor(prev_action)
        feature = m.units["observe"](
            m.world_model.rssm.feature(prev), action, m.tensor(image_features), m.tensor(proprio)
        )
        self.state = m.split(feature)
        self.steps += 1
        return self.state

    @torch.no_grad()
    def predict(self, prev_action: np.ndarray) -> RSSMState:
        if self.state is None:
            raise RuntimeError("predict before the first frame: there is no belief to advance")
        m = self._model
        feature = m.units["imagine"](m.world_model.rssm.feature(self.state), m.tensor(prev_action))
        self.state = m.split(feature)
        self.steps += 1
        return self.state


def resolve_model_dir(model_dir: str) -> Path:
    """The checkpoint directory a node was given, or the shipped one; clear error if absent."""
    path = Path(model_dir) if model_dir else paths.models_dir() / paths.DEFAULT_MODEL
    if not (path / CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"model_dir {path}: no world-model checkpoint there ({CONFIG_FILE} + weights)"
            + ("; the shipped models are made by `vla-wm train`" if not model_dir else "")
        )
    return path


@functools.cache
def _load(path: Path, device: str, digest: str, backend: str, engine_cache: str) -> ModelRuntime:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda requested but torch sees no CUDA device")
    world_model = load_checkpoint(path, dev)
    cache = Path(engine_cache) if engine_cache else None
    units = deploy(world_model, path, backend, device, cache_root=cache, checkpoint=digest)
    return ModelRuntime(world_model, dev, digest[:16], units)


def load_model_runtime(
    model_dir: str, device: str, backend: str = "eager", engine_cache: str = ""
) -> ModelRuntime:
    """The model in `model_dir` on `device` and `backend`, shared by the nodes of a process.

    The cache key includes the checkpoint's hash (also the Embedding's encoder_id), so a
    rewritten checkpoint is loaded afresh; compiled backends reuse their engine cache.
    """
    path = resolve_model_dir(model_dir).resolve()
    return _load(path, device, checkpoint_hash(path), backend, engine_cache)
