"""The pieces of the world model the control loop runs, as exportable modules.

Each unit is an `nn.Module` with a fixed tensor signature (no optional arguments, no
Python objects in or out), so every backend can trace, compile or export it:

- `image`: camera frame uint8 (1, 3, H, W) -> image features (1, E) (camera_encoder);
- `observe`: the filter step (state_estimator): previous feature (1, F), executed action
  (1, A), image features (1, E), proprioception (1, P) -> posterior feature (1, F);
- `imagine`: the prior step at any batch: (N, F), (N, A) -> (N, F) (planner, and the
  state estimator's prediction when a frame is late);
- `reward`, `value`: (N, F) features with the goal's precomputed first-layer term (H,)
  -> (N,) (planner scoring; `value` is the offline V when the checkpoint has one, else the
  imagination critic);
- `q_spread` (only with an offline value): (N, F), (N, A), the Q heads' goal terms
  flattened (E * H,) -> (N,) std over the heads (the planner's uncertainty penalty);
- `actor`: (N, F), goal term (H,) -> the tanh-Gaussian's loc and std, (N, A) each.

Latents are the prior/posterior mode (the planner imagines deterministically, the filter
keeps the posterior mean), so a unit is a pure function and parity is exact up to float
rounding. The units read the world model's own parameters: nothing is copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vla_wm_ros.models.offline_value import OfflineValue
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.models.world_model import WorldModel


class ImageUnit(nn.Module):
    def __init__(self, wm: WorldModel):
        super().__init__()
        self.backbone = wm.encoder.image

    def forward(self, image: Tensor) -> Tensor:
        return self.backbone(image.float() / 255.0)


class ObserveUnit(nn.Module):
    def __init__(self, wm: WorldModel):
        super().__init__()
        self.proprio = wm.encoder.proprio
        self.fuse = wm.encoder.fuse
        self.rssm = wm.rssm

    def forward(self, feature: Tensor, action: Tensor, image: Tensor, proprio: Tensor) -> Tensor:
        parts = [image] if self.proprio is None else [image, self.proprio(proprio)]
        embed = self.fuse(torch.cat(parts, dim=-1))
        d = self.rssm.deter_size
        prev = RSSMState(feature[:, :d], feature[:, d:])
        post = self.rssm.obs_step(prev, action, embed, None, sample=False)[0]
        return torch.cat([post.deter, post.stoch], dim=-1)


class ImagineUnit(nn.Module):
    def __init__(self, wm: WorldModel):
        super().__init__()
        self.rssm = wm.rssm

    def forward(self, feature: Tensor, action: Tensor) -> Tensor:
        d = self.rssm.deter_size
        state = RSSMState(feature[:, :d], feature[:, d:])
        nxt = self.rssm.img_step(state, action, sample=False)[0]
        return torch.cat([nxt.deter, nxt.stoch], dim=-1)


class GoalHeadUnit(nn.Module):
    """The reward head or the critic, fed the goal's precomputed term."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, feature: Tensor, goal_term: Tensor) -> Tensor:
        return self.head(feature, goal_term=goal_term)


class OfflineValueUnit(nn.Module):
    """The offline V (in return units), fed its goal term."""

    def __init__(self, value: OfflineValue):
        super().__init__()
        self.value = value

    def forward(self, feature: Tensor, goal_term: Tensor) -> Tensor:
        return self.value.value(feature, goal_term=goal_term)


class QSpreadUnit(nn.Module):
    """Std over the offline Q heads at (feature, action); goal terms flattened (E * H,)."""

    def __init__(self, value: OfflineValue):
        super().__init__()
        self.value = value
        self.heads = len(value.q.heads)

    def forward(self, feature: Tensor, action: Tensor, goal_term: Tensor) -> Tensor:
        return self.value.spread(feature, action, goal_term.view(self.heads, -1))


class ActorUnit(nn.Module):
    def __init__(self, wm: WorldModel):
        super().__init__()
        self.actor = wm.actor

    def forward(self, feature: Tensor, goal_term: Tensor) -> tuple[Tensor, Tensor]:
        dist = self.actor(feature, goal_term=goal_term)
        return dist.loc, dist.std


@dataclass(frozen=True)
class UnitSpec:
    """A unit, its example inputs, and whether its batch dimension varies."""

    name: str
    module: nn.Module
    inputs: tuple[Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_batch: bool

    def example(self, batch: int) -> tuple[Tensor, ...]:
        """Inputs of another batch size (goal terms keep their shape): the parity probe."""
        if not self.dynamic_batch:
            return self.inputs
        gen = torch.Generator().manual_seed(batch)
        out = []
        for x in self.inputs:
            if x.dim() == 1:
                out.append(x)
            else:
                shape = (batch, *x.shape[1:])
                out.append(torch.randn(shape, generator=gen).to(x.device, x.dtype))
        return tuple(out)


def unit_specs(wm: WorldModel, batch: int = 8, seed: int = 0) -> list[UnitSpec]:
    """Every unit of `wm` with seeded example inputs on the model's device."""
    if wm.encoder.image is None:
        raise ValueError(
            "deploy: the control-loop units need a world model with an image encoder "
            f"(encoder.backbone is {wm.cfg.encoder.backbone!r})"
        )
    param = next(wm.parameters())
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen).to(param.device, param.dtype)

    cfg, rssm = wm.cfg, wm.rssm
    size, f, a = cfg.encoder.image_size, rssm.feature_dim, wm.action_dim
    image = torch.randint(0, 256, (1, 3, size, size), generator=gen, dtype=torch.uint8)
    image_dim = wm.encoder.image.out_dim
    goal = randn(cfg.goal_dim)
    offline = wm.offline_value
    with torch.no_grad():
        reward_term = wm.reward_head.goal_term(goal)
        value_term = (wm.critic if offline is None else offline.v).goal_term(goal)
        actor_term = wm.actor.goal_term(goal)
        q_term = None if offline is None else offline.q.goal_term(goal).reshape(-1)
    value_unit = GoalHeadUnit(wm.critic) if offline is None else OfflineValueUnit(offline)
    feature_goal = ("feature", "goal_term")
    extra = []
    if offline is not None:
        spread_inputs = (randn(batch, f), randn(batch, a).tanh(), q_term)
        spread_names = ("feature", "action", "goal_term")
        extra.append(
            UnitSpec(
                "q_spread", QSpreadUnit(offline), spread_inputs, spread_names, ("spread",), True
            )
        )
    return [
        UnitSpec("image", ImageUnit(wm), (image.to(param.device),),
                 ("image",), ("features",), False),
        UnitSpec(
            "observe",
            ObserveUnit(wm),
            (randn(1, f), randn(1, a).tanh(), randn(1, image_dim), randn(1, cfg.proprio_dim)),
            ("feature", "action", "image_features", "proprio"),
            ("posterior",),
            False,
        ),
        UnitSpec(
            "imagine", ImagineUnit(wm), (randn(batch, f), randn(batch, a).tanh()),
            ("feature", "action"), ("next_feature",), True,
        ),
        UnitSpec("reward", GoalHeadUnit(wm.reward_head), (randn(batch, f), reward_term),
                 feature_goal, ("reward",), True),
        UnitSpec("value", value_unit, (randn(batch, f), value_term),
                 feature_goal, ("value",), True),
        UnitSpec("actor", ActorUnit(wm), (randn(batch, f), actor_term),
                 feature_goal, ("loc", "std"), True),
        *extra,
    ]  # fmt: skip
