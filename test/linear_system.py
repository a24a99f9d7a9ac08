"""A linear-quadratic system behind the planning protocol: planning with a known optimum.

x' = A x + B u; the reward of arriving in x is -(x - g)ᵀQ(x - g), the value at the horizon
-(x - g)ᵀP(x - g), the policy prior a proportional-derivative feedback, and an ensemble
of perturbed dynamics matrices measures disagreement; a stand-in Q ensemble's spread grows
with the action's distance from the prior's. Because the planners' objective is
then quadratic in the action sequence, its maximiser has a closed form
(`optimal_actions`), which is what planner tests and sanity checks compare against.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LinearQuadraticSystem:
    """Implements vla_wm_ros.planning.model.PlanningModel; the state is the feature (N, n)."""

    has_disagreement = True
    has_q_ensemble = True

    def __init__(
        self,
        a: Tensor,
        b: Tensor,
        q: Tensor,
        p: Tensor,
        gain: Tensor,
        action_bound: float = 1.0,
        policy_noise: float = 0.3,
        q_spread_scale: float = 1.0,
        ensemble_spread: float = 0.0,
        ensemble_size: int = 5,
        seed: int = 0,
    ):
        n, m = b.shape
        if a.shape != (n, n) or q.shape != (n, n) or p.shape != (n, n) or gain.shape != (m, n):
            raise ValueError(
                f"shapes: A {tuple(a.shape)}, B {tuple(b.shape)}, Q {tuple(q.shape)}, "
                f"P {tuple(p.shape)}, gain {tuple(gain.shape)} do not describe one system"
            )
        self.a, self.b, self.q, self.p, self.gain = a, b, q, p, gain
        self.action_dim = m
        self.action_low = torch.full((m,), -action_bound)
        self.action_high = torch.full((m,), action_bound)
        self.policy_noise = policy_noise
        self.q_spread_scale = q_spread_scale
        self._generator = torch.Generator().manual_seed(seed)
        # Ensemble members scale the uncertain entries by (1 + spread * noise): every
        # non-zero entry of B (actuation) and the entries of A other than 0 and 1 (the
        # couplings; identities and constants are bookkeeping and stay exact).
        ab = torch.cat([a, b], 1)
        uncertain = torch.cat([a.ne(0) & a.ne(1), b.ne(0)], 1)
        noise = torch.randn(ensemble_size, n, n + m, generator=self._generator)
        members = ab * (1 + ensemble_spread * noise * uncertain)
        self.members_a, self.members_b = members[..., :n], members[..., n:]  # (M,n,n), (M,n,m)

    # PlanningModel -----------------------------------------------------------------------
    def goal_context(self, goal: Tensor) -> Tensor:
        return goal.reshape(1, -1)

    def feature(self, belief: Tensor) -> Tensor:
        return belief.reshape(1, -1) if belief.dim() == 1 else belief

    def imagine_step(self, feature: Tensor, action: Tensor, out: Tensor | None = None) -> Tensor:
        return torch.addmm(action @ self.b.T, feature, self.a.T, out=out)

    def reward(self, feature: Tensor, context: Tensor) -> Tensor:
        d = feature - context
        return -((d @ self.q) * d).sum(-1)

    def value(self, feature: Tensor, context: Tensor) -> Tensor:
        d = feature - context
        return -((d @ self.p) * d).sum(-1)

    def policy(self, feature: Tensor, context: Tensor, sample: bool) -> Tensor:
        action = -(feature - context) @ self.gain.T
        if sample:
            noise = torch.randn(action.shape, generator=self._generator, dtype=action.dtype)
            action = action + self.policy_noise * noise
        return action

    def actor_action(self, belief: Tensor, goal: Tensor) -> Tensor:
        return self.policy(self.feature(belief), self.goal_context(goal), False)

    def q_spread(self, feature: Tensor, action: Tensor, context: Tensor) -> Tensor:
        """A Q ensemble fitted on the prior's data: its heads disagree in proportion to how
        far the action is from the prior's mode action."""
        prior = self.policy(feature, context, False)
        return self.q_spread_scale * (action - prior).norm(dim=-1)

    def disagreement(self, feature: Tensor, action: Tensor) -> Tensor:
        nxt = torch.einsum("mij,nj->mni", self.members_a, feature)
        nxt = nxt + torch.einsum("mij,nj->mni", self.members_b, action)
        return nxt.std(dim=0).mean(dim=-1)

    # Closed form ---------------------------------------------------------------------------
    def plan_return(self, x0: Tensor, goal: Tensor, actions: Tensor, discount: float) -> float:
        """The planners' objective for one action sequence (H, A) from x0 (n,)."""
        x, g, total = x0.reshape(1, -1), goal.reshape(1, -1), 0.0
        for t in range(actions.shape[0]):
            x = self.imagine_step(x, actions[t : t + 1])
            total += discount**t * float(self.reward(x, g)[0])
        return total + discount ** actions.shape[0] * float(self.value(x, g)[0])

    def optimal_actions(self, x0: Tensor, goal: Tensor, horizon: int, discount: float) -> Tensor:
        """Unconstrained maximiser (H, A) of `plan_return`, solved in float64.

        x_t = Φ_t x0 + Γ_t U is linear in the stacked actions U, so the objective is
        -Σ_t (x_t - g)ᵀ W_t (x_t - g) with W_t = γ^(t-1) Q (+ γ^H P at t = H), and
        its maximiser solves the normal equations Σ Γ_tᵀ W_t Γ_t U = Σ Γ_tᵀ W_t (g - Φ_t x0).
        """
        lhs, to_goal, to_state = self._normal_equations(horizon, discount)
        n = self.b.shape[0]
        rhs = to_goal @ goal.double().reshape(n) - to_state @ x0.double().reshape(n)
        return torch.linalg.solve(lhs, rhs).reshape(horizon, -1).float()

    def optimal_feedback(self, goal: Tensor, horizon: int, discount: float) -> Tensor:
        """L (A, n) with L x = the first action of `optimal_actions(x, goal, ...)` for every
        state x whose last component is the constant 1 (as `point_mass` states carry): the
        receding-horizon optimal controller, usable as a perfect policy prior."""
        lhs, to_goal, to_state = self._normal_equations(horizon, discount)
        n, m = self.b.shape
        constant = torch.zeros(n, dtype=torch.float64)
        constant[-1] = 1.0
        offset = torch.outer(to_goal @ goal.double().reshape(n), constant)
        return torch.linalg.solve(lhs, offset - to_state)[:m].float()

    def _normal_equations(self, horizon: int, discount: float) -> tuple[Tensor, Tensor, Tensor]:
        """(lhs, R_g, R_x) in float64 with rhs = R_g g - R_x x0 (see optimal_actions)."""
        a, b = self.a.double(), self.b.double()
        n, m = b.shape
        lhs = torch.zeros(horizon * m, horizon * m, dtype=torch.float64)
        to_goal = torch.zeros(horizon * m, n, dtype=torch.float64)
        to_state = torch.zeros(horizon * m, n, dtype=torch.float64)
        phi = torch.eye(n, dtype=torch.float64)
        gamma_t = torch.zeros(n, horizon * m, dtype=torch.float64)
        for t in range(1, horizon + 1):
            phi = a @ phi
            gamma_t = a @ gamma_t
            gamma_t[:, (t - 1) * m : t * m] = b
            w = discount ** (t - 1) * self.q.double()
            if t == horizon:
                w = w + discount**horizon * self.p.double()
            lhs += gamma_t.T @ w @ gamma_t
            to_goal += gamma_t.T @ w
            to_state += gamma_t.T @ w @ phi
        return lhs, to_goal, to_state


def point_mass(
    dims: int = 2,
    dt: float = 0.2,
    authority: float = 2.0,
    gravity: float = 0.0,
    velocity_weight: float = 0.1,
    effort_weight: float = 1.0,
    terminal_weight: float = 10.0,
    **kwargs,
) -> LinearQuadraticSystem:
    """A point mass in `dims` dimensions, action = acceleration, optionally under gravity.

    The state is (position, velocity, last action, 1): carrying the last action lets a
    state-only reward charge effort (effort_weight), which keeps the optimum smooth and
    inside the action bounds; the constant 1 carries gravity (pulling the last dimension
    down), so holding still needs a non-zero action. Goals put 1 in the last component.
    The actor prior is a deliberately soft PD feedback, so planning has room to beat it.
    """
    eye, zero = torch.eye(dims), torch.zeros(dims, dims)
    motion = torch.cat([torch.cat([eye, dt * eye], 1), torch.cat([zero, eye], 1)])
    a = torch.block_diag(motion, zero, torch.ones(1, 1))
    a[dims - 1, -1] = -0.5 * gravity * dt**2
    a[2 * dims - 1, -1] = -gravity * dt
    b = torch.cat([authority * 0.5 * dt**2 * eye, authority * dt * eye, eye, torch.zeros(1, dims)])
    q = torch.block_diag(eye, velocity_weight * eye, effort_weight * eye, torch.zeros(1, 1))
    gain = torch.cat([eye, eye, zero, torch.zeros(dims, 1)], 1)
    return LinearQuadraticSystem(a, b, q, terminal_weight * q, gain, **kwargs)
