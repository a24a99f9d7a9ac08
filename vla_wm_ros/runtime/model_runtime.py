"""The world model as the nodes use it: loaded once per process, called with numpy.

The graph splits the observation encoder at its natural seam: camera_encoder runs the
image backbone (`image_features`) and publishes that vector; state_estimator runs the
proprioception branch and the fusion (`BeliefFilter.update`). Composed, the two give
exactly `encoder(image, proprio)` (a test holds them equal). ROS-free: numpy in, numpy
out, torch inside under no_grad.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from vla_wm_ros import paths
from vla_wm_ros.models.checkpoint import CONFIG_FILE, checkpoint_hash, load_checkpoint
from vla_wm_ros.models.encoder import image_to_float
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.runtime.graph import DEFAULT_MODEL
from vla_wm_ros.runtime.parameters import Param

# Every node that loads the world model declares these two.
MODEL_PARAMETERS = [
    Param("model_dir", "", "world-model checkpoint directory; empty: the shipped model"),
    Param("device", "cpu", "where the model runs", choices=("cpu", "cuda")),
]


class ModelRuntime:
    """A loaded WorldModel plus the sizes the nodes check messages against."""

    def __init__(self, world_model, device: torch.device, encoder_id: str) -> None:
        self.world_model = world_model.eval()
        self.device = device
        self.encoder_id = encoder_id
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
        out = self.world_model.encoder.image(image_to_float(image.to(self.device)))
        return out[0].float().cpu().numpy()

    @torch.no_grad()
    def fuse(self, features: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """Image features (B, E_img) + proprioception (B, P) -> embedding e_t (B, E)."""
        encoder = self.world_model.encoder
        parts = [features]
        if encoder.proprio is not None:
            parts.append(encoder.proprio(proprio.float()))
        return encoder.fuse(torch.cat(parts, dim=-1))

    def tensor(self, values: np.ndarray) -> torch.Tensor:
        """A (1, N) float32 tensor on the model's device."""
        return torch.as_tensor(np.asarray(values, dtype=np.float32), device=self.device)[None]

    def state_from_arrays(self, deter: np.ndarray, stoch: np.ndarray) -> RSSMState:
        return RSSMState(self.tensor(deter), self.tensor(stoch))

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
        embed = m.fuse(m.tensor(image_features), m.tensor(proprio))
        first = self.state is None
        prev = m.world_model.rssm.initial(1, m.device) if first else self.state
        action = torch.zeros(1, m.action_dim, device=m.device) if first else m.tensor(prev_action)
        is_first = torch.tensor([first], device=m.device)
        self.state = m.world_model.rssm.obs_step(prev, action, embed, is_first, sample=False)[0]
        self.steps += 1
        return self.state

    @torch.no_grad()
    def predict(self, prev_action: np.ndarray) -> RSSMState:
        if self.state is None:
            raise RuntimeError("predict before the first frame: there is no belief to advance")
        rssm = self._model.world_model.rssm
        self.state = rssm.img_step(self.state, self._model.tensor(prev_action), sample=False)[0]
        self.steps += 1
        return self.state


def resolve_model_dir(model_dir: str) -> Path:
    """The checkpoint directory a node was given, or the shipped one; clear error if absent."""
    path = Path(model_dir) if model_dir else paths.models_dir() / DEFAULT_MODEL
    if not (path / CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"model_dir {path}: no world-model checkpoint there ({CONFIG_FILE} + weights)"
            + ("; the shipped models are made by `vla-wm train`" if not model_dir else "")
        )
    return path


@functools.cache
def _load(path: Path, device: str, digest: str) -> ModelRuntime:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda requested but torch sees no CUDA device")
    return ModelRuntime(load_checkpoint(path, dev), dev, digest[:16])


def load_model_runtime(model_dir: str, device: str) -> ModelRuntime:
    """The model in `model_dir` on `device`, shared by the nodes of one process.

    The cache key includes the checkpoint's hash (also the Embedding's encoder_id), so a
    rewritten checkpoint is loaded afresh.
    """
    path = resolve_model_dir(model_dir).resolve()
    return _load(path, device, checkpoint_hash(path))
