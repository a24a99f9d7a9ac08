"""Dense building blocks: the MLP every head uses, and its conditioned variant.

`ConditionedMLP` splits its first layer into a feature part and a condition part,
`h = W_f f + (W_c c + b)`. Goal-conditioned heads use it so a planner scoring thousands of
features against one goal computes the goal's share once per plan; the RSSM posterior uses
it so the observation embedding's share is computed for a whole sequence in one GEMM.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r}: valid names are {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def hidden_block(width: int, act: str, norm: bool) -> list[nn.Module]:
    """What follows each hidden Linear: optional LayerNorm, then the activation."""
    return [nn.LayerNorm(width), activation(act)] if norm else [activation(act)]


class MLP(nn.Sequential):
    """`layers` hidden Linear(+LayerNorm)+activation blocks, then an optional output Linear."""

    def __init__(
        self,
        in_dim: int,
        hidden: int,
        layers: int,
        out_dim: int | None,
        act: str = "silu",
        norm: bool = True,
    ):
        modules: list[nn.Module] = []
        width = in_dim
        for _ in range(layers):
            modules += [nn.Linear(width, hidden), *hidden_block(hidden, act, norm)]
            width = hidden
        if out_dim is not None:
            modules.append(nn.Linear(width, out_dim))
            width = out_dim
        super().__init__(*modules)
        self.out_dim = width


class ConditionedMLP(nn.Module):
    """MLP over (feature, condition) whose condition share of layer one is computed apart.

    `forward(f, cond)` and `forward(f, term=self.term(cond))` give the same result; the
    second form costs one (F x H) GEMM per call instead of (F+C) x H.
    """

    def __init__(
        self,
        feature_dim: int,
        cond_dim: int,
        hidden: int,
        layers: int,
        out_dim: int,
        act: str = "silu",
        norm: bool = True,
    ):
        super().__init__()
        if layers < 1:
            raise ValueError("ConditionedMLP needs a hidden layer to condition")
        self.feature_in = nn.Linear(feature_dim, hidden, bias=False)
        self.cond_in = nn.Linear(cond_dim, hidden)  # carries the first layer's bias
        self.first_act = nn.Sequential(*hidden_block(hidden, act, norm))
        self.rest = MLP(hidden, hidden, layers - 1, out_dim, act, norm)

    def term(self, cond: Tensor) -> Tensor:
        """W_c c + b: (C,) -> (H,) for one condition shared by all rows, (..., C) -> (..., H)."""
        return self.cond_in(cond)

    def forward(self, feature: Tensor, cond: Tensor | None = None, term: Tensor | None = None):
        """(..., F) features with `cond` (or its precomputed `term`) -> (..., out_dim)."""
        if term is None:
            if cond is None:
                raise ValueError("ConditionedMLP needs either cond or its term")
            term = self.term(cond)
        lead = feature.shape[:-1]
        flat = feature.reshape(-1, feature.shape[-1])
        if term.dim() > 1:  # one condition per leading row: (N, H) serves (N, T, F) features
            while term.dim() < feature.dim():
                term = term.unsqueeze(-2)
            term = term.expand(*lead, term.shape[-1]).reshape(flat.shape[0], -1)
        x = torch.addmm(term, flat, self.feature_in.weight.t())
        out = self.rest(self.first_act(x))
        return out.reshape(*lead, out.shape[-1])

    def feature_linears(self) -> list[nn.Linear]:
        """Linear layers run per feature once the condition term is known (FLOP counts)."""
        return [self.feature_in, *(m for m in self.rest.modules() if isinstance(m, nn.Linear))]
