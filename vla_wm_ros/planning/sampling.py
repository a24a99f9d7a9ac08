"""The machinery MPPI and CEM share: batched rollouts, scoring, deadlines, warm start.

Per plan: the actor prior's trajectories are rolled out once (the first is its mode
trajectory, so what the actor alone would do is always a candidate); the mean starts as a
blend of that mode trajectory and the previous plan shifted by one step (warm start), the
std at max_std; then each iteration draws Gaussian samples around the mean, rolls all of
them forward together (one batched `imagine_step` per horizon step), scores every sample
with one batched reward call over all steps, the value at the horizon and (optionally) the
Q ensemble's spread at every step and a disagreement penalty, and refits the mean and std
to the elites with weights chosen by the subclass. The plan is the final mean or the best
sample. Buffers are allocated once per sample count. The score is planning/score.py's;
under a deadline the work shrinks (iterations, then samples: planning/budget.py) and the
plan says so in its reason. A model that compiles the whole plan as one graph
(planning/precision.py) runs it that way where it fits the deadline, same math.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vla_wm_ros.planning.budget import samples_that_fit, updated_estimate
from vla_wm_ros.planning.config import SafetyConfig, SamplingConfig
from vla_wm_ros.planning.exact_decision import ExactDecision
from vla_wm_ros.planning.model import (
    GoalContext,
    GoalContextCache,
    PlanningModel,
    belief_feature,
    rollout,
)
from vla_wm_ros.planning.refit import elite_refit
from vla_wm_ros.planning.result import PlanResult, deadline_result
from vla_wm_ros.planning.score import SampleScorer, Scores, choose_plan
from vla_wm_ros.planning.uncertainty import SafetyGate
from vla_wm_ros.planning.whole_plan import WholePlan


class SamplingPlanner:
    """Base of MPPI and CEM; subclasses define `elite_weights`."""

    name = "sampling"

    def __init__(self, model: PlanningModel, cfg: SamplingConfig, safety: SafetyConfig):
        self.model = model
        self.cfg = cfg
        self.gate = SafetyGate(safety, model)
        self.scorer = SampleScorer(model, cfg, self.gate)
        # Without a Q ensemble the score is rewards + value, as `uses_q_penalty` tells.
        self.uses_q_penalty = self.scorer.uses_q_penalty
        self._kappa = self.scorer.kappa
        low, high = model.action_low, model.action_high
        device, dtype = low.device, low.dtype
        h, a, n = cfg.horizon, model.action_dim, cfg.samples
        self._n_pi = cfg.policy_samples
        self._low = low.view(1, 1, a)
        self._high = high.view(1, 1, a)
        self._generator = torch.Generator(device=device).manual_seed(cfg.seed)
        self._mean = torch.zeros(h, 1, a, device=device, dtype=dtype)
        self._std = torch.full((h, 1, a), cfg.max_std, device=device, dtype=dtype)
        self._plan_buf = torch.zeros(h, 1, a, device=device, dtype=dtype)  # the chosen plan
        self._has_prev = False
        # The fewest samples a shrunk plan may use: all elites, one sample past the prior's
        # and an eighth of the configured samples.
        self.min_samples = max(cfg.elites, self._n_pi + 1, n // 8)
        # (noise (H, N-P, A), actions (H, N, A), features (H+1, N, F) or None) per N
        self._sized: dict[int, tuple[Tensor, Tensor, Tensor | None]] = {}
        self._use_samples(n)
        self._first_ms: float | None = None  # first iteration's duration with all samples
        self._iter_ms: float | None = None  # duration of the last later iteration
        self._goal_context = GoalContextCache(model)
        # A reduced-precision model's actor-or-plan decision is taken again in fp32.
        full = getattr(model, "full_precision_model", None)
        decides = self._kappa is not None or cfg.prior_margin is not None
        exact = full is not None and decides and self._n_pi > 0
        self._exact = ExactDecision(full, cfg, self.gate) if exact else None
        # The whole plan as one graph, when the model compiles one (planning/precision.py).
        graph = self.scorer.plan_graph(cfg, self.elite_weights)
        self._whole = graph and WholePlan(graph, cfg, self._noise.shape, self._generator, low)

    def elite_weights(self, elite_returns: Tensor) -> Tensor:
        """Weights (k,) summing to 1 over the elites, best first."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the warm start (new goal or new episode)."""
        self._has_prev = False

    @property
    def mean_plan(self) -> Tensor:
        """The action sequence (H, A) of the last plan (mean or best sample, action_choice)."""
        return self._plan_buf[:, 0]

    @property
    def chosen_plan(self) -> Tensor | None:
        """The last plan's action sequence (H, A) (None before the first): what the plan
        visualisation imagines."""
        return self._plan_buf[:, 0] if self._has_prev else None

    def plan(self, belief: Any, goal: Tensor, deadline: float | None = None) -> PlanResult:
        """Best first action for `belief` towards `goal` by time.monotonic() `deadline`."""
        start = time.monotonic()
        with torch.inference_mode():
            result = self._plan(belief, goal, deadline, start)
        return self.gate.apply(result)

    def _use_samples(self, n: int) -> None:
        """Point the sample buffers at those for `n` samples (allocated on first use)."""
        if n not in self._sized:
            a, h = self.model.action_dim, self.cfg.horizon
            like = self._mean
            noise = torch.empty(h, n - self._n_pi, a, device=like.device, dtype=like.dtype)
            actions = torch.empty(h, n, a, device=like.device, dtype=like.dtype)
            self._sized[n] = (noise, actions, None)
        self._noise, self._actions, self._features = self._sized[n]
        self._samples = n

    def _plan(self, belief: Any, goal: Tensor, deadline: float | None, start: float) -> PlanResult:
        model, cfg = self.model, self.cfg
        f0 = belief_feature(model, belief)
        context = self._goal_context(goal)
        samples = samples_that_fit(cfg.samples, self.min_samples, self._first_ms, start, deadline)
        if samples == 0:
            return self._prior_fallback(belief, goal, f0, context, deadline, start)
        self._use_samples(samples)
        features = self._buffers(f0)
        features[0].copy_(f0.expand_as(features[0]))
        whole = self._whole
        if whole and whole.fits(samples, self._first_ms, self._iter_ms, deadline):
            warm = bool(cfg.warm_start and self._has_prev)
            scores, actions, mean, std = whole.run(features[0, :1], context, self._plan_buf, warm)
            self._actions.copy_(actions)
            self._mean.copy_(mean)
            self._std.copy_(std)
            done, cut_reason = cfg.iterations, ""
        else:
            scores, done, cut_reason = self._iterations(context, samples, deadline, start)
        if samples < cfg.samples:
            cut_reason = (
                f"deadline: shrunk to {samples} of {cfg.samples} samples "
                f"({(deadline - start) * 1e3:.1f} ms left, all take ~{self._first_ms:.1f} ms)"
                + (f"; {cut_reason.removeprefix('deadline: ')}" if cut_reason else "")
            )
        candidates = self._actions
        if self._exact is not None:
            scores, candidates = self._exact.rescore(belief, goal, candidates, scores)
        chosen, expected, predicted, kept_prior = choose_plan(
            scores, candidates, self._mean, cfg, self._kappa
        )
        self._plan_buf.copy_(chosen)
        self._has_prev = True
        # The actor's plan kept: send the actor's own action, not its rounded rollout's.
        first = model.actor_action(belief, goal)[0] if kept_prior else self._plan_buf[0, 0]
        action = torch.minimum(torch.maximum(first, model.action_low), model.action_high)
        return PlanResult(
            action=action.cpu().numpy().astype(np.float32),
            expected_return=expected,
            uncertainty=self._plan_uncertainty(f0) if self.gate.measures else 0.0,
            iterations=done,
            elapsed_ms=(time.monotonic() - start) * 1e3,
            status="deadline" if cut_reason else "ok",
            reason=cut_reason,
            predicted_reward=predicted,
        )

    def _iterations(
        self, context: GoalContext, samples: int, deadline: float | None, start: float
    ) -> tuple[Scores, int, str]:
        """The plan iteration by iteration, each started only if it fits the deadline;
        returns the last iteration's scores, the iterations done and why it stopped early
        ('' when it did not)."""
        cfg = self.cfg
        if self._n_pi:
            self._policy_rollout(context)
        self._start_distribution()
        done, cut_reason = 0, ""
        while done < cfg.iterations:
            t_iter = time.monotonic()
            if done and deadline is not None and t_iter + (self._iter_ms or 0.0) / 1e3 > deadline:
                cut_reason = (
                    f"deadline: stopped after {done} of {cfg.iterations} iterations "
                    f"({(deadline - t_iter) * 1e3:.1f} ms left, one takes "
                    f"~{self._iter_ms or 0.0:.1f} ms)"
                )
                # Decay the estimate that cut the plan short: one slow iteration (a busy
                # machine) must not keep every later plan at one iteration for good.
                self._iter_ms = 0.8 * (self._iter_ms or 0.0)
                break
            scores = self._iterate(context)  # the first iteration always runs
            done += 1
            took = (time.monotonic() - (start if done == 1 else t_iter)) * 1e3
            if done == 1:
                took *= cfg.samples / samples  # the estimate is for every sample
                self._first_ms = updated_estimate(self._first_ms, took)
            else:
                self._iter_ms = took
        if done == 1 and self._iter_ms is None:
            self._iter_ms = self._first_ms
        return scores, done, cut_reason

    def _buffers(self, f0: Tensor) -> Tensor:
        h, n, width = self.cfg.horizon, self._samples, f0.shape[-1]
        if self._features is None or self._features.shape[-1] != width:
            self._features = torch.empty(h + 1, n, width, device=f0.device, dtype=f0.dtype)
            self._sized[n] = (self._noise, self._actions, self._features)
        return self._features

    def _start_distribution(self) -> None:
        """Mean: prior_weight * the actor's mode trajectory + the rest * the shifted previous
        plan, or whichever of the two exists (zeros if neither); std: max_std."""
        mean, cfg = self._mean, self.cfg
        warm = cfg.warm_start and self._has_prev
        if warm:
            mean[:-1].copy_(self._plan_buf[1:])
            mean[-1].copy_(self._plan_buf[-1])
        if self._n_pi:
            mode = self._actions[:, :1]
            if warm:
                mean.lerp_(mode, cfg.prior_weight)
            else:
                mean.copy_(mode)
        elif not warm:
            mean.zero_()
        self._std.fill_(cfg.max_std)

    def _policy_rollout(self, context: GoalContext) -> None:
        """Trajectories of the actor prior, kept in the candidate set all plan long: row 0
        follows the actor's mode, the others sample its distribution."""
        model, p = self.model, self._n_pi
        features, actions = self._features, self._actions
        fused = getattr(model, "policy_rollout", None)  # all steps in one call (precision.py)
        if fused is not None:
            fused(features[:, :p], actions[:, :p], context)
            return
        for t in range(self.cfg.horizon):
            actions[t, :1] = model.policy(features[t, :1], context, False)
            if p > 1:
                actions[t, 1:p] = model.policy(features[t, 1:p], context, True)
            actions[t, :p].clamp_(self._low[0], self._high[0])
            model.imagine_step(features[t, :p], actions[t, :p], out=features[t + 1, :p])

    def _iterate(self, context: GoalContext) -> Scores:
        """One sample-score-refit round; returns its scores."""
        model, cfg, p = self.model, self.cfg, self._n_pi
        features, actions, noise = self._features, self._actions, self._noise
        torch.randn(noise.shape, generator=self._generator, out=noise, dtype=noise.dtype)
        if self.scorer.fused is not None:  # one compiled graph for all of it
            sampling = (self._mean, self._std, noise)
            returns, first_reward, q_spread = self.scorer.sample_and_score(
                features, actions, sampling, context, p
            )
        else:
            sampled = actions[:, p:]
            torch.addcmul(self._mean, self._std, noise, out=sampled)
            sampled.clamp_(self._low, self._high)
            rollout(model, features[:, p:], actions[:, p:])
            returns, first_reward, q_spread = self.scorer(features, actions, context)
        elite_returns, index, weights, mean, std = elite_refit(
            actions, returns, cfg.elites, self.elite_weights, cfg.min_std, cfg.max_std
        )
        self._mean.copy_(mean)
        self._std.copy_(std)
        return Scores(returns, first_reward, elite_returns, index, weights, q_spread)

    def _plan_uncertainty(self, f0: Tensor) -> float:
        """Mean ensemble disagreement along the chosen plan, imagined from f0."""
        model, plan = self.model, self._plan_buf[:, 0]
        feature, total = f0, 0.0
        for t in range(self.cfg.horizon):
            action = plan[t : t + 1]
            total += float(model.disagreement(feature, action)[0])
            feature = model.imagine_step(feature, action)
        return total / self.cfg.horizon

    def _prior_fallback(
        self,
        belief: Any,
        goal: Tensor,
        f0: Tensor,
        context: GoalContext,
        deadline: float,
        start: float,
    ) -> PlanResult:
        """No time for one iteration: the actor's action at the belief.

        The estimate that ruled the plan out decays, so the next ticks try again: if it was
        an outlier the planner resumes, if not it is measured anew.
        """
        model = self.model
        estimate_ms = self._first_ms or 0.0
        self._first_ms = 0.8 * estimate_ms
        action = model.actor_action(belief, goal)
        uncertainty = float(model.disagreement(f0, action)[0]) if self.gate.measures else 0.0
        return deadline_result(
            action[0].cpu().numpy().astype(np.float32),
            start,
            deadline,
            "iteration",
            estimate_ms,
            "actor prior's action sent",
            expected_return=float(model.value(f0, context)[0]),
            uncertainty=uncertainty,
        )
