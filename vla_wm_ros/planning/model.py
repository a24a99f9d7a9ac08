"""The small protocol planners plan over.

Planners work in feature space: a belief (whatever the state estimator holds, e.g. an
RSSMState) is turned into its feature (1, F) once per plan, and `imagine_step` maps
features to next features, writing into a caller-provided `out` row block when given, so
a planner's trajectory tensor is filled in place. Features are scored with the reward,
value, policy and (optionally) Q-ensemble spread and disagreement functions. The real
`WorldModel` implements it through `world_model_adapter.py`; analytic systems with known
optima (`test/linear_system.py`) implement it for tests.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

GoalContext = Any  # what `goal_context` returns; only passed back to the model


@runtime_checkable
class PlanningModel(Protocol):
    """A latent dynamics model with goal-conditioned reward, value and policy prior.

    `goal_context` is called once per plan: goal-conditioned heads fold the goal's share
    of their computation into it so that per-sample calls only process features.
    `imagine_step` must support autograd when grad is enabled (gradient MPC).
    """

    action_dim: int
    action_low: Tensor  # (A,)
    action_high: Tensor  # (A,)
    has_disagreement: bool  # whether `disagreement` is available (an ensemble exists)
    has_q_ensemble: bool  # whether `q_spread` is available (an offline Q ensemble exists)

    def feature(self, belief: Any) -> Tensor:  # (1, F)
        ...

    def goal_context(self, goal: Tensor) -> GoalContext: ...

    def imagine_step(self, feature: Tensor, action: Tensor, out: Tensor | None = None) -> Tensor:
        """(N, F), (N, A) -> (N, F) next features (written into `out` when given)."""
        ...

    def reward(self, feature: Tensor, context: GoalContext) -> Tensor:  # (N,): of arriving
        ...

    def value(self, feature: Tensor, context: GoalContext) -> Tensor:  # (N,)
        ...

    def policy(self, feature: Tensor, context: GoalContext, sample: bool) -> Tensor:  # (N, A)
        ...

    def actor_action(self, belief: Any, goal: Tensor) -> Tensor:
        """(1, A) the policy's mode action at `belief` for `goal` in the model's full
        precision: what the actor alone would send, which a plan that keeps the actor's
        proposal sends too (a reduced-precision `policy` differs from it by rounding)."""
        ...

    def q_spread(self, feature: Tensor, action: Tensor, context: GoalContext) -> Tensor:
        """(N,) spread (std) of a Q ensemble at (feature, action); only if has_q_ensemble."""
        ...

    def disagreement(self, feature: Tensor, action: Tensor) -> Tensor:
        """(N,) epistemic disagreement about the next state; only if has_disagreement."""
        ...


def rollout(model: PlanningModel, features: Tensor, actions: Tensor) -> None:
    """Fill features[1:] (H+1, N, F) from features[0] under actions (H, N, A), in place.

    A model may offer `rollout(features, actions)` doing all H steps in one call (a fused
    or compiled rollout, planning/precision.py); otherwise one imagine_step per step.
    """
    fused = getattr(model, "rollout", None)
    if fused is not None:
        fused(features, actions)
        return
    for t in range(actions.shape[0]):
        model.imagine_step(features[t], actions[t], out=features[t + 1])


class GoalContextCache:
    """A model's goal terms, computed again only when the goal changes (a goal holds for
    many ticks; its terms are a few GEMMs per plan otherwise)."""

    def __init__(self, model: PlanningModel) -> None:
        self.model = model
        self._entry: tuple[Tensor, GoalContext] | None = None  # (goal, its terms)

    def __call__(self, goal: Tensor) -> GoalContext:
        if self._entry is None or not torch.equal(self._entry[0], goal):
            self._entry = (goal.clone(), self.model.goal_context(goal))
        return self._entry[1]


def belief_feature(model: PlanningModel, belief: Any) -> Tensor:
    """The belief's feature (1, F); refuses more than one row: planners plan for one robot."""
    feature = model.feature(belief)
    if feature.dim() != 2 or feature.shape[0] != 1:
        raise ValueError(
            f"belief: planners take a single belief (feature (1, F)), got {tuple(feature.shape)}"
        )
    return feature
