"""Receding-horizon gradient MPC: track a reference latent trajectory by backpropagation.

The action sequence is one leaf tensor and its Adam optimizer is built once: each tick
shifts the sequence and Adam's moment estimates by one step (warm start), takes a few
projected gradient steps through the model's imagine_step, and sends the first action.
(The seed rebuilt Adam every call and toggled requires_grad on an edited leaf.) Gradients
are taken with autograd.grad with respect to the actions only, so model parameters never
accumulate .grad.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vla_wm_ros.planning.config import GradientMPCConfig, SafetyConfig
from vla_wm_ros.planning.model import PlanningModel, belief_feature
from vla_wm_ros.planning.result import PlanResult, deadline_result
from vla_wm_ros.planning.uncertainty import SafetyGate


class GradientMPC:
    """plan(belief, reference, deadline): `reference` is a latent feature (F,) to reach or
    a trajectory (T, F) of features for the next T steps (the last one is held)."""

    name = "gradient"

    def __init__(self, model: PlanningModel, cfg: GradientMPCConfig, safety: SafetyConfig):
        self.model = model
        self.cfg = cfg
        self.gate = SafetyGate(safety, model)
        self._penalty = safety.disagreement_penalty
        low = model.action_low
        self._actions = torch.zeros(
            cfg.horizon, model.action_dim, device=low.device, dtype=low.dtype, requires_grad=True
        )
        self._optimizer = torch.optim.Adam([self._actions], lr=cfg.learning_rate)
        self._last_sent = torch.zeros(model.action_dim, device=low.device, dtype=low.dtype)
        self._has_prev = False
        self._iter_ms: float | None = None

    def reset(self) -> None:
        """Forget the warm start: zero plan, fresh Adam moments."""
        with torch.no_grad():
            self._actions.zero_()
        self._optimizer.state.clear()
        self._has_prev = False

    def plan(self, belief: Any, goal: Tensor, deadline: float | None = None) -> PlanResult:
        start = time.monotonic()
        with torch.inference_mode(False), torch.enable_grad():
            # A clone: inference tensors cannot be saved for backward.
            f0 = belief_feature(self.model, belief).detach().clone()
            result = self._plan(f0, self._reference(goal), deadline, start)
        return self.gate.apply(result)

    def _reference(self, goal: Tensor) -> Tensor:
        ref = goal.detach().clone().to(self._actions.dtype)
        if ref.dim() == 1:
            ref = ref.unsqueeze(0)
        if ref.dim() != 2:
            raise ValueError(
                "reference: expected a feature (F,) or a trajectory (T, F), "
                f"got shape {tuple(goal.shape)}"
            )
        h = self.cfg.horizon
        if ref.shape[0] < h:
            ref = torch.cat([ref, ref[-1:].expand(h - ref.shape[0], -1)])
        return ref[:h]

    def _plan(
        self, f0: Tensor, reference: Tensor, deadline: float | None, start: float
    ) -> PlanResult:
        cfg = self.cfg
        self._shift()
        if deadline is not None and start + (self._iter_ms or 0.0) / 1e3 > deadline:
            return self._fallback(deadline, start)
        done, cut_reason = 0, ""
        while done < cfg.iterations:
            t_iter = time.monotonic()
            if done and deadline is not None and t_iter + self._iter_ms / 1e3 > deadline:
                cut_reason = (
                    f"deadline: stopped after {done} of {cfg.iterations} gradient steps "
                    f"({(deadline - t_iter) * 1e3:.1f} ms left, one takes ~{self._iter_ms:.1f} ms)"
                )
                break
            cost, _ = self._cost(f0, reference, self._actions)
            (grad,) = torch.autograd.grad(cost, self._actions)
            self._actions.grad = grad
            self._optimizer.step()
            with torch.no_grad():
                self._actions.clamp_(self.model.action_low, self.model.action_high)
            done += 1
            self._iter_ms = (time.monotonic() - t_iter) * 1e3
        with torch.no_grad():
            actions = self._actions.detach()
            cost, features = self._cost(f0, reference, actions)
            uncertainty = self._uncertainty(features, actions)
            self._last_sent.copy_(actions[0])
        self._has_prev = True
        return PlanResult(
            action=actions[0].cpu().numpy().astype(np.float32),
            expected_return=-float(cost),
            uncertainty=uncertainty,
            iterations=done,
            elapsed_ms=(time.monotonic() - start) * 1e3,
            status="deadline" if cut_reason else "ok",
            reason=cut_reason,
            predicted_reward=float("nan"),
        )

    def _shift(self) -> None:
        """Warm start: advance the plan and Adam's moments by one step (or start afresh)."""
        with torch.no_grad():
            if not (self.cfg.warm_start and self._has_prev):
                self._actions.zero_()
                self._optimizer.state.clear()
                return
            tensors = [self._actions, *self._optimizer.state.get(self._actions, {}).values()]
            for t in tensors:
                if t.dim() == 2:
                    t[:-1] = t[1:].clone()

    def _cost(self, f0: Tensor, reference: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Tracking + smoothness cost of `actions` (H, A) and the imagined features (H+1, F)."""
        model, features = self.model, [f0]
        for t in range(actions.shape[0]):
            features.append(model.imagine_step(features[-1], actions[t : t + 1]))
        feats = torch.cat(features)
        tracking = (feats[1:] - reference).square().mean(dim=1).sum()
        previous = self._last_sent.unsqueeze(0) if self._has_prev else actions[:1].detach()
        steps = torch.diff(actions, dim=0, prepend=previous)
        cost = tracking + self.cfg.smoothness * steps.square().mean(dim=1).sum()
        if self._penalty:
            cost = cost + self._penalty * model.disagreement(feats[:-1], actions).sum()
        return cost, feats

    def _uncertainty(self, features: Tensor, actions: Tensor) -> float:
        if not self.gate.measures:
            return 0.0
        return float(self.model.disagreement(features[:-1], actions).mean())

    def _fallback(self, deadline: float, start: float) -> PlanResult:
        """No time for one gradient step: the previous plan's next action, else the safe one."""
        if self._has_prev:
            with torch.no_grad():
                self._last_sent.copy_(self._actions[0])
            action = self._last_sent.cpu().numpy().astype(np.float32)
            what = "previous plan's next action sent"
        else:
            action = self.gate.safe_action.copy()
            what = "no previous plan: safe action sent"
        return deadline_result(action, start, deadline, "gradient step", self._iter_ms or 0.0, what)
