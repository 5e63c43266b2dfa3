"""k trained networks of one architecture and vocabulary whose scores are averaged: k times the compute of one.

CRF members average their emissions and transitions, so a path's score is the mean of its
members' path scores; softmax members average their per-token log-probabilities; intents
average each atom's probability. The averaged scores then decode exactly as one network's.
"""

from __future__ import annotations

import torch
from torch import nn

from slotfill.errors import SlotfillError
from slotfill.models.crf import CRF
from slotfill.models.net import NetConfig, SlotNet

NOT_TRAINED = "an ensemble is not trained: train its members, or distil one model from it (train.distill_from)"


class EnsembleNet(nn.Module):
    """The :class:`SlotNet` interface over ``members`` networks; built by :meth:`SlotModel.combine`."""

    def __init__(
        self,
        config: NetConfig,
        n_words: int,
        n_chars: int,
        tags: list[str],
        n_intents: int,
        n_lexicon_types: int,
        members: int,
    ) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(
            SlotNet(config, n_words, n_chars, tags, n_intents, n_lexicon_types) for _ in range(members)
        )
        # the members' mean transitions (set by average_transitions): what decoding and marginals read
        self.crf = CRF(tags) if config.crf else None

    @property
    def intent_head(self) -> nn.Module | None:
        return self.members[0].intent_head

    def average_transitions(self) -> None:
        """Set the ensemble's CRF to the mean of its members' (after their weights are loaded)."""
        if self.crf is None:
            return
        with torch.no_grad():
            for name, p in self.crf.named_parameters():
                p.copy_(torch.stack([m.crf.get_parameter(name) for m in self.members]).mean(0))

    def forward(
        self,
        words: torch.Tensor,
        chars: torch.Tensor,
        char_index: torch.Tensor,
        lengths: torch.Tensor,
        lexicon: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        outs = [m(words, chars, char_index, lengths, lexicon) for m in self.members]
        if self.crf is not None:
            emissions = torch.stack([e for e, _ in outs]).mean(0)
        else:  # each member's scores normalised first, so no member weighs more for its scale
            emissions = torch.stack([e.log_softmax(-1) for e, _ in outs]).mean(0)
        if outs[0][1] is None:
            return emissions, None
        p = torch.stack([torch.sigmoid(i) for _, i in outs]).mean(0).clamp(1e-6, 1 - 1e-6)
        return emissions, torch.log(p) - torch.log1p(-p)  # the logits of the mean probabilities

    def loss(self, *args, **kwargs) -> torch.Tensor:
        raise SlotfillError(NOT_TRAINED)

    soft_loss = loss

    def decode_params(self) -> dict[str, torch.Tensor]:
        if self.crf is not None:
            trans, start, end = self.crf._scores()
            return {"trans": trans.detach(), "start": start.detach(), "end": end.detach(), "log_softmax": False}
        return self.members[0].decode_params()  # constraints only: the same in every member
