"""Imagined transitions per second: imagine_step + reward head, as a planner runs them.

For a config: build the world model (random weights: speed does not depend on them),
roll a batch of states forward with a fixed action batch and one cached goal term, and
time each step. FLOPs per transition are the dense layers counted analytically
(`WorldModel.imagine_flops`); roofline_fraction divides achieved FLOP/s by the fp32 GEMM
FLOP/s measured in the same process with the same thread count, interleaved with the
timing. Three execution paths are measured: the module path, the same under
torch.compile, and ImagineKernel (out= buffers, no concatenation). A second
figure, `dense_only`, times the same GEMM shapes alone with preallocated outputs: the
best a step could do if every non-GEMM cost (activations, norms, sampling, allocation)
vanished, so the gap between the two is what fusion or out= buffers could still win.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from vla_wm_ros.bench.roofline import gemm_flops_per_s
from vla_wm_ros.config.model import WorldModelConfig
from vla_wm_ros.latency import latency_summary
from vla_wm_ros.models.imagine_kernel import ImagineKernel
from vla_wm_ros.models.rssm import RSSMState
from vla_wm_ros.models.world_model import WorldModel


def _time_steps(step: Callable[[], object], seconds: float, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        step()
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < 10:
        t0 = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


PATHS = ("module", "compiled", "kernel")


def build_step(model: WorldModel, batch: int, path: str, seed: int = 0) -> Callable[[], None]:
    """A zero-argument closure advancing a batch of imagined states by one step.

    path: "module" (RSSM.imagine_step + reward head), "compiled" (the same under
    torch.compile), "kernel" (ImagineKernel: out= buffers, double-buffered features).
    """
    if path not in PATHS:
        raise ValueError(f"path {path!r}: valid paths are {', '.join(PATHS)}")
    gen = torch.Generator().manual_seed(seed)
    rssm = model.rssm
    state = RSSMState(
        torch.randn(batch, rssm.deter_size, generator=gen),
        torch.randn(batch, rssm.stoch_size, generator=gen),
    )
    action = torch.rand(batch, model.action_dim, generator=gen) * 2 - 1
    goal_term = model.reward_head.goal_term(torch.randn(model.cfg.goal_dim, generator=gen))

    if path == "kernel":
        kernel = ImagineKernel(model)
        features = [rssm.feature(state), kernel.new_features(batch, state.deter)]
        turn = [0]

        def kernel_step() -> None:
            src, dst = features[turn[0] % 2], features[(turn[0] + 1) % 2]
            kernel.reward(kernel.step(src, action, out=dst), goal_term)
            turn[0] += 1

        return kernel_step

    def transition(s: RSSMState) -> tuple[RSSMState, torch.Tensor]:
        nxt = rssm.imagine_step(s, action)
        return nxt, model.reward_head(rssm.feature(nxt), goal_term=goal_term)

    fn = torch.compile(transition, dynamic=False) if path == "compiled" else transition
    holder = {"state": state}

    def step() -> None:
        holder["state"], _ = fn(holder["state"])

    return step


def dense_only_step(model: WorldModel, batch: int) -> Callable[[], None]:
    """The transition's GEMMs alone (same shapes, preallocated outputs)."""
    linears = model.rssm.imagine_linears() + model.reward_head.feature_linears()
    inputs = [torch.randn(batch, m.in_features) for m in linears]
    outputs = [torch.empty(batch, m.out_features) for m in linears]
    weights = [m.weight.detach().t() for m in linears]

    def step() -> None:
        for x, w, out in zip(inputs, weights, outputs, strict=True):
            torch.mm(x, w, out=out)

    return step


def measure(
    cfg: WorldModelConfig,
    batch: int = 1000,
    threads: int | None = None,
    path: str = "module",
    seconds: float = 2.0,
    rounds: int = 4,
) -> dict:
    """One configuration's throughput, FLOPs and roofline fraction (see module docstring).

    Timing and the GEMM roofline are interleaved in `rounds` slots; the roofline is the
    best slot (the machine's peak in this window). `roofline_fraction` uses the median
    step (conservative), `roofline_fraction_best_step` the fastest one.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = WorldModel(cfg).eval()
        flops = model.imagine_flops()
        with torch.inference_mode():
            step = build_step(model, batch, path)
            t0 = time.perf_counter()
            step()  # compiles on the "compiled" path
            first_s = time.perf_counter() - t0
            dense_step = dense_only_step(model, batch)
            samples, dense, rooflines = [], [], []
            for _ in range(rounds):
                rooflines.append(gemm_flops_per_s(seconds=0.3))
                samples += _time_steps(step, seconds / rounds)
                dense += _time_steps(dense_step, seconds / rounds / 2)
        roofline = max(rooflines)
        summary = latency_summary(samples)
        dense_ms = latency_summary(dense)["p50_ms"]
        per_s = batch / (summary["p50_ms"] / 1e3)
        return {
            "threads": torch.get_num_threads(),
            "path": path,
            "first_call_s": round(first_s, 2),
            "batch": batch,
            "step_ms": summary,
            "transitions_per_s": per_s,
            "flops_per_transition": flops,
            "achieved_flops_per_s": flops * per_s,
            "gemm_flops_per_s": roofline,
            "gemm_flops_per_s_slots": rooflines,
            "roofline_fraction": flops * per_s / roofline,
            # Peak against peak: the fastest step against the best GEMM slot. On a shared
            # machine the median step includes time slices lost to other processes, which
            # the GEMM's best slot does not; this figure is the code's efficiency.
            "roofline_fraction_best_step": flops * batch / (min(samples) / 1e3) / roofline,
            "dense_only_step_ms": dense_ms,
            "dense_only_roofline_fraction": flops * batch / (dense_ms / 1e3) / roofline,
        }
    finally:
        torch.set_num_threads(previous)


def rssm_shapes(cfg: WorldModelConfig) -> dict:
    r = cfg.rssm
    return {
        "latent": r.latent,
        "deter": r.deter,
        "gru_layers": r.gru_layers,
        "deter_size": r.deter_size,
        "stoch_size": r.stoch_size,
        "hidden": r.hidden,
        "heads_hidden": cfg.heads.hidden,
        "act": r.act,
        "norm": r.norm,
    }
