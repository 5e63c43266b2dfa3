"""The slot-filling network: embeddings -> stacked recurrent encoder -> tag scores (+ intent)."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from slotfill.core.settings import from_mapping
from slotfill.errors import ConfigError
from slotfill.models.crf import CRF, NEG, bio_allowed, constrained_viterbi, constraint_structure, viterbi
from slotfill.models.encoder import CELLS, CharCNN, Dropout, RecurrentEncoder, WordCNN
from slotfill.models.interaction import CoInteraction

ADDED_SINCE_FORMAT_3 = {"intent_hidden_size": None, "co_interaction": False}
INTENT_ENCODERS = ("shared", "detached", "separate", "cnn")


@dataclass
class NetConfig:
    """Architecture settings: plain values, stored in every checkpoint to rebuild the network."""

    cell: str = "lstm"
    word_dim: int = 100
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.3  # between stacked recurrent layers
    embed_dropout: float = 0.3
    output_dropout: float = 0.3
    forget_bias: float = 1.0
    char_dim: int = 0  # 0 disables character features
    char_filters: int = 50
    char_kernel: int = 3
    crf: bool = False
    intent: bool = False
    intent_weight: float = 1.0
    # shared: pool the slot encoder | detached: pool it, the intent loss leaving it to the slots |
    # separate: own 1-layer BiLSTM on the embeddings | cnn: own convolution over the embeddings
    intent_encoder: str = "shared"
    intent_hidden_size: int | None = None  # the own intent encoder's size (None: hidden_size; cnn: 2 x hidden_size)
    intent_to_slot: bool = False  # the predicted intents shift every token's tag scores
    # slot and intent features attend to their labels, then to each other's tokens (models/interaction.py)
    co_interaction: bool = False
    label_smoothing: float = 0.0
    # gazetteer lists {type: file} (model.lexicons); their entries are stored with the vocabularies
    lexicons: dict[str, str] = field(default_factory=dict)
    lexicon_dim: int = 8  # embedding size of each type's B/I/O match feature

    def __post_init__(self) -> None:
        self.lexicons = {str(k): str(v) for k, v in (self.lexicons or {}).items()}
        if self.cell not in CELLS:
            raise ConfigError(f"model.cell={self.cell!r}: choose one of {', '.join(CELLS)}")
        for name in ("word_dim", "hidden_size", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"model.{name}={getattr(self, name)}: must be at least 1")
        for name in ("dropout", "embed_dropout", "output_dropout", "label_smoothing"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ConfigError(f"model.{name}={getattr(self, name)}: must be in [0, 1)")
        if self.intent_encoder not in INTENT_ENCODERS:
            choices = ", ".join(INTENT_ENCODERS)
            raise ConfigError(f"model.intent_encoder={self.intent_encoder!r}: choose one of {choices}")
        if self.intent_hidden_size is not None and int(self.intent_hidden_size) < 1:
            raise ConfigError(f"model.intent_hidden_size={self.intent_hidden_size}: must be at least 1 (or null)")
        if self.intent_to_slot and not self.intent:
            raise ConfigError("model.intent_to_slot=true needs the intent head: set model.intent=true")
        if self.co_interaction and not self.intent:
            raise ConfigError("model.co_interaction=true needs the intent head: set model.intent=true")
        if self.co_interaction and self.intent_encoder == "detached":
            raise ConfigError(
                "model.co_interaction=true reads the slot features into the intent, so the intent loss trains the "
                "slot encoder: it cannot be model.intent_encoder=detached (choose shared or separate)"
            )
        if int(self.lexicon_dim) < 0:
            raise ConfigError(f"model.lexicon_dim={self.lexicon_dim}: must be at least 0")
        if self.char_dim > 0 and (self.char_filters < 1 or self.char_kernel < 1):
            raise ConfigError("model.char_filters and model.char_kernel must be at least 1 with char features")
        if self.char_dim > 0 and self.char_kernel % 2 == 0:
            raise ConfigError(
                f"model.char_kernel={self.char_kernel}: an odd width (1, 3, 5, ...): windows centred on a character"
            )

    @classmethod
    def from_dict(cls, d: dict, saved: bool = False) -> NetConfig:
        """Settings given now (checked, types too), or ``saved`` in a model file (as written: a file an
        earlier version wrote, such as ``intent: 1``, loads and keeps its fingerprint)."""
        config = from_mapping(cls, d, "model", check_types=not saved)
        if not saved and config.cell != "lstm" and config.forget_bias != cls.forget_bias:
            raise ConfigError(
                f"model.forget_bias={config.forget_bias}: the LSTM's forget gate; model.cell={config.cell} has none"
            )
        return config

    def to_dict(self) -> dict:
        # settings added since model format 3, left out at their default: the settings of a model
        # trained before them (and so its fingerprint) read the same
        d = asdict(self)
        return {k: v for k, v in d.items() if not (k in ADDED_SINCE_FORMAT_3 and v == ADDED_SINCE_FORMAT_3[k])}


class SlotNet(nn.Module):
    """Tags every token with a slot; optionally a CRF layer and a joint (multi-label) intent head."""

    def __init__(
        self, config: NetConfig, n_words: int, n_chars: int, tags: list[str], n_intents: int, n_lexicon_types: int = 0
    ) -> None:
        super().__init__()
        self.config = config
        self.tag_names = list(tags)
        self.word_embed = nn.Embedding(n_words, config.word_dim, padding_idx=0)
        self.char_cnn = (
            CharCNN(n_chars, config.char_dim, config.char_filters, config.char_kernel, config.embed_dropout)
            if config.char_dim > 0
            else None
        )
        in_dim = config.word_dim + (self.char_cnn.out_dim if self.char_cnn else 0)
        # one embedding row per (type, O/B/I) pair: each type's match feature gets its own vectors
        self.lexicon_embed = None
        if n_lexicon_types and config.lexicon_dim > 0:
            self.lexicon_embed = nn.Embedding(4 * n_lexicon_types, config.lexicon_dim)
            self.register_buffer("lexicon_offset", torch.arange(n_lexicon_types) * 4, persistent=False)
            in_dim += n_lexicon_types * config.lexicon_dim
        self.embed_dropout = Dropout(config.embed_dropout)
        self.encoder = RecurrentEncoder(
            in_dim,
            cell=config.cell,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            forget_bias=config.forget_bias,
        )
        self.output_dropout = Dropout(config.output_dropout)
        self.tag_head = nn.Linear(self.encoder.out_dim, len(tags))
        self.crf = CRF(tags) if config.crf else None
        # a separate intent encoder shares only the embeddings, a detached head reads the slot
        # encoder without training it: either way the intent loss cannot pull the slot encoder's
        # features towards sentence classification
        self.intent_encoder = None
        intent_in = self.encoder.out_dim
        if config.intent and n_intents and config.intent_encoder == "separate":
            self.intent_encoder = RecurrentEncoder(
                in_dim,
                cell=config.cell,
                hidden_size=config.intent_hidden_size or config.hidden_size,
                num_layers=1,
                bidirectional=config.bidirectional,
                forget_bias=config.forget_bias,
            )
            intent_in = self.intent_encoder.out_dim
        if config.intent and n_intents and config.intent_encoder == "cnn":
            self.intent_encoder = WordCNN(in_dim, config.intent_hidden_size or 2 * config.hidden_size)
            intent_in = self.intent_encoder.out_dim
        # its weights are drawn after the layers above, so a model without it starts from the same weights as before
        self.interaction = None
        if config.intent and n_intents and config.co_interaction:
            # the slot encoder's width: the tag head reads the interaction's output unchanged in size
            self.interaction = CoInteraction(
                self.encoder.out_dim, intent_in, len(tags), n_intents, self.encoder.out_dim
            )
            intent_in = self.interaction.out_dim
        self.intent_head = nn.Linear(2 * intent_in, n_intents) if config.intent and n_intents else None
        self.detached = config.intent_encoder == "detached"
        # the intent decides which slot types a sentence can hold ("to downtown boston" is a
        # city_name in a ground-service query, an arrival in a flight query): its probabilities
        # add a learned per-tag score to every token, as in slot-gated / stack-propagation models
        self.intent_to_tag = None
        if self.intent_head is not None and config.intent_to_slot:
            self.intent_to_tag = nn.Linear(n_intents, len(tags), bias=False)
        if not self.crf:
            allowed, allowed_start = bio_allowed(tags)
            self.register_buffer("trans_penalty", (~allowed).float() * -1e4, persistent=False)
            self.register_buffer("start_penalty", (~allowed_start).float() * -1e4, persistent=False)
            self._structure = constraint_structure(self.trans_penalty)  # constant: computed once

    def train_recurrent_in(self, dtype: torch.dtype | None) -> None:
        """The arithmetic of the recurrent layers' training passes (None: float32); weights stay float32."""
        for encoder in (self.encoder, self.intent_encoder):
            if isinstance(encoder, RecurrentEncoder):
                encoder.train_dtype = dtype

    def forward(
        self,
        words: torch.Tensor,
        chars: torch.Tensor,
        char_index: torch.Tensor,
        lengths: torch.Tensor,
        lexicon: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tag scores ``[B, T, K]`` and intent logits ``[B, I]`` (or None); inputs as made by ``collate``."""
        x = self.word_embed(words)
        if self.char_cnn is not None:
            x = torch.cat([x, self.char_cnn(chars, char_index)], dim=-1)
        if self.lexicon_embed is not None:
            x = torch.cat([x, self.lexicon_embed(lexicon + self.lexicon_offset).flatten(2)], dim=-1)
        x = self.embed_dropout(x)
        slot = self.output_dropout(self.encoder(x, lengths))
        if self.intent_head is None:
            return self.tag_head(slot), None
        if self.intent_encoder is not None:
            h = self.output_dropout(self.intent_encoder(x, lengths))
        else:
            h = slot.detach() if self.detached else slot
        mask = torch.arange(h.shape[1], device=h.device)[None, :] < lengths.to(h.device)[:, None]
        if self.interaction is not None:
            slot, h = self.interaction(slot, h, mask)
        emissions = self.tag_head(slot)
        mask = mask.unsqueeze(2)
        mean = (h * mask).sum(1) / lengths.to(h.device).unsqueeze(1).to(h.dtype)
        mx = h.masked_fill(~mask, -1e4).amax(1)
        intent = self.intent_head(torch.cat([mean, mx], dim=1))
        if self.intent_to_tag is not None:
            emissions = emissions + self.intent_to_tag(torch.sigmoid(intent)).unsqueeze(1)
        return emissions, intent

    def loss(
        self,
        emissions: torch.Tensor,
        intent_logits: torch.Tensor | None,
        tags: torch.Tensor,
        intents: torch.Tensor | None,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Mean per-token slot loss (tags -100 are ignored) plus the weighted intent loss."""
        if self.crf is not None:
            keep = tags >= 0
            loss = self.crf.nll(emissions, tags, mask) / keep.sum().clamp(min=1)
        else:
            loss = F.cross_entropy(
                emissions.reshape(-1, emissions.shape[-1]),
                tags.reshape(-1),
                ignore_index=-100,
                label_smoothing=self.config.label_smoothing,
            )
        return loss + self._intent_loss(intent_logits, intents)

    def soft_loss(
        self,
        emissions: torch.Tensor,
        intent_logits: torch.Tensor | None,
        tag_probs: torch.Tensor,
        intent_probs: torch.Tensor | None,
        mask: torch.Tensor,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """:meth:`loss` against soft labels (a teacher's tag and intent probabilities): distillation.

        At a ``temperature`` T the scores are divided by T and the loss multiplied by T², which keeps
        its gradients about the same size whatever T (Hinton et al. 2015); a softmax tagger's only.
        """
        tokens = mask.sum().clamp(min=1)
        if self.crf is not None and temperature != 1:
            raise ConfigError(f"train.distill_temperature={temperature:g}: a CRF's loss takes no temperature")
        if self.crf is not None:
            loss = self.crf.soft_nll(emissions, tag_probs, mask) / tokens
        else:
            per_token = -(tag_probs * (emissions / temperature).log_softmax(-1)).sum(-1)
            loss = (per_token * mask).sum() / tokens
        if intent_logits is not None:
            intent_logits = intent_logits / temperature
        return (loss + self._intent_loss(intent_logits, intent_probs)) * temperature**2

    def _intent_loss(self, intent_logits: torch.Tensor | None, targets: torch.Tensor | None) -> torch.Tensor | float:
        """The weighted intent loss against 0/1 or soft targets (0 without an intent head or labels)."""
        if intent_logits is None or targets is None:
            return 0.0
        # summed over atomic intents (mean over sentences): a mean over the atoms would
        # shrink the intent signal by their number relative to the per-token slot loss
        bce = F.binary_cross_entropy_with_logits(intent_logits, targets, reduction="sum") / len(targets)
        return self.config.intent_weight * bce

    def decode_params(self) -> dict[str, torch.Tensor]:
        """Transition scores for decoding (exported beside ONNX graphs, which hold only emissions)."""
        if self.crf is not None:
            trans, start, end = self.crf._scores()
            return {"trans": trans.detach(), "start": start.detach(), "end": end.detach(), "log_softmax": False}
        return {
            "trans": self.trans_penalty,
            "start": self.start_penalty,
            "end": torch.zeros_like(self.start_penalty),
            "log_softmax": True,
            "structure": self._structure,
        }


def decode_tags(emissions: torch.Tensor, mask: torch.Tensor, params: dict) -> torch.Tensor:
    """Viterbi with BIO constraints; shared by the eager and ONNX paths.

    Softmax models have constraint-only transitions, decoded in O(K) per tag and step.
    """
    if params["log_softmax"]:
        scores = emissions.log_softmax(-1)
        # With constraint-only transitions (0 or -inf) the path score is the sum of per-token
        # scores, so where the per-token argmax is already well-formed it is the Viterbi path:
        # only the (rare) sentences where it is not need the search.
        tags = scores.argmax(-1).masked_fill(~mask, 0)
        allowed = params["trans"] > NEG / 2
        bad = (~allowed[tags[:, :-1], tags[:, 1:]] & mask[:, 1:]).any(1) | (params["start"][tags[:, 0]] < NEG / 2)
        if bad.any():
            structure = params.get("structure") or constraint_structure(params["trans"])
            tags[bad] = constrained_viterbi(scores[bad], mask[bad], params["start"], structure)
        return tags
    return viterbi(emissions, mask, params["trans"], params["start"], params["end"])


@functools.lru_cache(maxsize=16)
def _membership(intent_sets: tuple[tuple[int, ...], ...], atoms: int) -> torch.Tensor:
    """``[sets, atoms]``: 1 where a set holds an atom (built once per model: a lone sentence paid
    more for building it than for the decision itself). Read only."""
    member = torch.zeros(len(intent_sets), atoms, dtype=torch.float64)
    for row, ids in enumerate(intent_sets):
        member[row, list(ids)] = 1.0
    return member


def decode_intents(
    probs: torch.Tensor, intent_sets: list[list[int]] | None = None, threshold: float = 0.5
) -> list[list[int]]:
    """Atomic intent ids per sentence, most likely first.

    With ``intent_sets`` (the combinations seen in training), the likeliest whole set under the
    independent per-atom probabilities; without, every atom above ``threshold`` (at least one).
    """
    if intent_sets:
        member = _membership(tuple(map(tuple, intent_sets)), probs.shape[1])
        p = probs.double().clamp(1e-7, 1 - 1e-7)
        # log P(set) = sum of log p over its atoms + sum of log(1 - p) over the rest
        score = p.log() @ member.T + (1 - p).log() @ (1 - member).T
        rows = probs.tolist()
        return [sorted(intent_sets[b], key=lambda i, p=p: -p[i]) for p, b in zip(rows, score.argmax(1).tolist())]
    order = probs.argsort(dim=1, descending=True)
    out = []
    for p, o in zip(probs.tolist(), order.tolist()):
        picked = [i for i in o if p[i] > threshold] or [o[0]]
        out.append(picked)
    return out
