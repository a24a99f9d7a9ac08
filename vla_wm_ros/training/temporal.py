"""Stage 1: temporal encoder pretraining on observation embeddings (before the RSSM).

Three self-supervised objectives on the causal context c_t = temporal(e_{<=t}, a_{<t}):
next-observation prediction (c_t -> e_{t+1}, stop-gradient target), temporal contrastive
learning (InfoNCE: c_t must pick its own e_{t+1} among every other step of the batch, the
in-batch negatives), and masked sequence modelling (15% of the inputs replaced by a
learned token; c_t must recover the masked e_t). The contrastive term trains the encoder
too and keeps the embeddings from collapsing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vla_wm_ros.models.world_model import WorldModel


class TemporalObjectives(nn.Module):
    """The heads the stage-1 losses need; they are not part of the shipped model."""

    def __init__(self, context_dim: int, embed_dim: int, proj_dim: int = 128):
        super().__init__()
        self.next_obs = nn.Linear(context_dim, embed_dim)
        self.masked = nn.Linear(context_dim, embed_dim)
        self.query = nn.Linear(context_dim, proj_dim)
        self.key = nn.Linear(embed_dim, proj_dim)
        self.mask_token = nn.Parameter(torch.zeros(embed_dim))

    def losses(
        self,
        wm: WorldModel,
        batch: dict[str, Tensor],
        mask_prob: float = 0.15,
        temperature: float = 0.1,
    ) -> dict[str, Tensor]:
        embeds = wm.encode(batch.get("image"), batch.get("proprio"))  # (B, T, E)
        mask = torch.rand(embeds.shape[:2]) < mask_prob
        inputs = torch.where(mask[..., None], self.mask_token.expand_as(embeds), embeds)
        context = wm.temporal(inputs, batch["prev_action"])  # (B, T, C)
        target = embeds.detach()
        next_obs = F.mse_loss(self.next_obs(context[:, :-1]), target[:, 1:])
        q = F.normalize(self.query(context[:, :-1]).flatten(0, 1), dim=-1)
        k = F.normalize(self.key(embeds[:, 1:]).flatten(0, 1), dim=-1)
        logits = q @ k.t() / temperature
        infonce = F.cross_entropy(logits, torch.arange(logits.shape[0]))
        masked = (
            F.mse_loss(self.masked(context)[mask], target[mask])
            if mask.any()
            else embeds.new_zeros(())
        )
        return {"next_obs": next_obs, "infonce": infonce, "masked": masked}
