"""KL regulariser of the RSSM: DreamerV3 balancing with free bits per step.

dyn = KL(sg(q) || p) trains the prior towards the posterior; rep = KL(q || sg(p)) trains
the representation towards what the prior can predict. Each step's value of each term is
clipped below at `free_nats` (no gradient under it), then averaged over batch and time:
free bits per step, never a clamp of the batch mean.
"""

from __future__ import annotations

from torch import Tensor

from vla_wm_ros.models.latent import Latent, Stats, detach


def kl_balance(
    latent: Latent,
    post: Stats,
    prior: Stats,
    dyn_scale: float,
    rep_scale: float,
    free_nats: float,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Balanced, free-bits KL loss over (B, T) stats -> (loss, named terms).

    Terms: `kl` (the raw KL(q || p), mean), `kl_dyn` / `kl_rep` (after free bits, mean).
    """
    dyn = latent.kl(detach(post), prior).clamp(min=free_nats).mean()
    rep = latent.kl(post, detach(prior)).clamp(min=free_nats).mean()
    loss = dyn_scale * dyn + rep_scale * rep
    raw = latent.kl(detach(post), detach(prior)).mean()
    return loss, {"kl": raw, "kl_dyn": dyn, "kl_rep": rep}
