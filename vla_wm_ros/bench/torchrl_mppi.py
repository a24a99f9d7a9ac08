"""TorchRL's MPPIPlanner over the very same networks, for the `vs_torchrl` comparison.

The world model is wrapped the way TorchRL expects a model-based environment: a
transition TensorDictModule (deter, stoch, action) -> (deter, stoch), a reward module on
the new state, and the critic as the value network of a TD(lambda=1) advantage module,
which makes TorchRL's score the same discounted reward plus bootstrap value ours uses.
TorchRL multiplies returns by its `temperature`; ours divides, so it gets 1 / ours.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


def build_torchrl_mppi(
    transition: nn.Module,
    reward: nn.Module,
    value: nn.Module,
    deter_dim: int,
    stoch_dim: int,
    action_dim: int,
    horizon: int,
    iterations: int,
    samples: int,
    elites: int,
    temperature: float,
    discount: float,
) -> Callable[[Tensor, Tensor], Tensor]:
    """plan(deter (1, D), stoch (1, S)) -> action (A,) with torchrl.modules.MPPIPlanner.

    transition(deter, stoch, action) -> (deter, stoch); reward(deter, stoch) -> (N, 1);
    value(deter, stoch) -> (N, 1).
    """
    from tensordict import TensorDict
    from tensordict.nn import TensorDictModule
    from torchrl.data import Bounded, Composite, Unbounded
    from torchrl.envs.model_based import ModelBasedEnvBase
    from torchrl.modules import ValueOperator, WorldModelWrapper
    from torchrl.modules.planners import MPPIPlanner
    from torchrl.objectives.value import TDLambdaEstimator

    class LatentEnv(ModelBasedEnvBase):
        def __init__(self, world_model: nn.Module):
            super().__init__(world_model, device="cpu")
            latent = Composite(deter=Unbounded((deter_dim,)), stoch=Unbounded((stoch_dim,)))
            self.observation_spec = latent.clone()
            self.state_spec = latent.clone()
            self.action_spec = Bounded(-1.0, 1.0, (action_dim,))
            self.reward_spec = Unbounded((1,))

        def _reset(self, tensordict: TensorDict, **kwargs) -> TensorDict:
            return tensordict.select("deter", "stoch").clone()

    world_model = WorldModelWrapper(
        TensorDictModule(
            transition, in_keys=["deter", "stoch", "action"], out_keys=["deter", "stoch"]
        ),
        TensorDictModule(reward, in_keys=["deter", "stoch"], out_keys=["reward"]),
    )
    env = LatentEnv(world_model)
    advantage = TDLambdaEstimator(
        gamma=discount,
        lmbda=1.0,
        value_network=ValueOperator(value, in_keys=["deter", "stoch"]),
    )
    planner = MPPIPlanner(
        env,
        advantage,
        temperature=1.0 / temperature,
        planning_horizon=horizon,
        optim_steps=iterations,
        num_candidates=samples,
        top_k=elites,
    )

    def plan(deter: Tensor, stoch: Tensor) -> Tensor:
        td = TensorDict({"deter": deter[0], "stoch": stoch[0]}, batch_size=[])
        return planner.planning(td)

    return plan
