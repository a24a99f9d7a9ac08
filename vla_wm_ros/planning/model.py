"""The small protocol planners plan over.

Planners never see network modules: they roll states forward, read features, and score
features with the reward, value, policy and (optionally) disagreement functions below.
The real `WorldModel` implements it through `world_model_adapter.py`; analytic systems
with known optima (`linear_system.py`) implement it for tests. States are opaque to the
planners apart from batching: a state is a tensor or a tuple (NamedTuple) of tensors whose
first dimension is the batch.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor

State = Any  # Tensor | tuple[Tensor, ...]: batch-first, opaque to planners
GoalContext = Any  # what `goal_context` returns; only passed back to the model


@runtime_checkable
class PlanningModel(Protocol):
    """A latent dynamics model with goal-conditioned reward, value and policy prior.

    `goal_context` is called once per plan: goal-conditioned heads fold the goal's share
    of their computation into it so that per-sample calls only process features.
    """

    action_dim: int
    action_low: Tensor  # (A,)
    action_high: Tensor  # (A,)
    has_disagreement: bool  # whether `disagreement` returns values (an ensemble exists)

    def goal_context(self, goal: Tensor) -> GoalContext: ...

    def imagine_step(self, state: State, action: Tensor) -> State: ...

    def feature(self, state: State) -> Tensor:  # (N, F)
        ...

    def reward(self, feature: Tensor, context: GoalContext) -> Tensor:  # (N,): of arriving
        ...

    def value(self, feature: Tensor, context: GoalContext) -> Tensor:  # (N,)
        ...

    def policy(self, feature: Tensor, context: GoalContext, sample: bool) -> Tensor:  # (N, A)
        ...

    def disagreement(self, feature: Tensor, action: Tensor) -> Tensor:
        """(N,) epistemic disagreement about the next state; only if has_disagreement."""
        ...


def batch_size(state: State) -> int:
    """Rows in a state (a tensor or a tuple of tensors)."""
    return (state[0] if isinstance(state, tuple) else state).shape[0]


def expand_state(state: State, n: int) -> State:
    """Broadcast a batch-1 state to `n` rows without copying."""
    if isinstance(state, tuple):
        items = [t.expand(n, *t.shape[1:]) for t in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    return state.expand(n, *state.shape[1:])


def check_belief(state: State) -> None:
    """Refuse a belief that is not a single batch row: planners plan for one robot."""
    if batch_size(state) != 1:
        raise ValueError(f"belief: planners take a batch-1 state, got batch {batch_size(state)}")
