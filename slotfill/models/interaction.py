"""Co-interaction of the slot and intent features (Co-Interactive Transformer, Qin et al. 2021).

Each token's slot features and intent features first attend over their own task's label
embeddings (what the token looks like as a ``B-toloc.city_name``, as an ``atis_flight``), then
over the other task's features of every token of the sentence: the slot features become
intent-aware ("to downtown boston" in a ground-service query), the intent features slot-aware
(a sentence with a fare basis code asks about fares).
"""

from __future__ import annotations

import torch
from torch import nn

NEG = -1e4  # a padded key's attention score: its weight underflows to zero


class CoInteraction(nn.Module):
    """``(slot [B, T, S], intent [B, T, I], mask [B, T])`` -> both ``[B, T, dim]``, each informed by the other."""

    def __init__(self, slot_dim: int, intent_dim: int, n_tags: int, n_intents: int, dim: int) -> None:
        super().__init__()
        self.slot_proj = nn.Linear(slot_dim, dim)
        self.intent_proj = nn.Linear(intent_dim, dim)
        self.slot_labels = nn.Parameter(torch.randn(n_tags, dim) * dim**-0.5)
        self.intent_labels = nn.Parameter(torch.randn(n_intents, dim) * dim**-0.5)
        self.slot_norm = nn.LayerNorm(dim)
        self.intent_norm = nn.LayerNorm(dim)
        self.scale = dim**-0.5
        self.out_dim = dim

    def forward(
        self, slot: torch.Tensor, intent: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.slot_proj(slot)
        i = self.intent_proj(intent)
        # label attention: a token's features plus the mixture of its task's labels it resembles
        s = s + torch.softmax(s @ self.slot_labels.T * self.scale, -1) @ self.slot_labels
        i = i + torch.softmax(i @ self.intent_labels.T * self.scale, -1) @ self.intent_labels
        # co-interactive attention: every token reads the other task's features of the whole
        # sentence (padding masked as a key); both directions read the label-aware features
        keys = ~mask.unsqueeze(1)  # [B, 1, T]
        to_intent = torch.softmax((s @ i.transpose(1, 2) * self.scale).masked_fill(keys, NEG), -1)
        to_slot = torch.softmax((i @ s.transpose(1, 2) * self.scale).masked_fill(keys, NEG), -1)
        return self.slot_norm(s + to_intent @ i), self.intent_norm(i + to_slot @ s)
