"""The lesson slotfill is built on, as small experiments on generated data (used by ``bench/cells.py``).

*Long-range probe*: ``i want to leave|reach f1 ... fk CITY`` — the city is a departure after
"leave" and an arrival after "reach", with ``k`` neutral filler words in between. A
left-to-right tagger must carry the cue across ``k + 1`` steps; slot F1 by ``k`` shows how far
each cell remembers. *Gradient norms*: ``||d loss / d x_t||`` for a loss on the last token only,
against the distance from it. Everything here is plain PyTorch on :class:`SlotModel` (no
Lightning), so a probe trains in seconds on a CPU.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from slotfill.core.vocab import Vocabularies
from slotfill.evaluation.metrics import slot_scores
from slotfill.models import NetConfig
from slotfill.models.encoding import collate, encode_example
from slotfill.models.slot_model import SlotModel

CUES = {"leave": "fromloc.city_name", "reach": "toloc.city_name"}
PREFIX = ["i", "want", "to"]
FILLERS = (
    "please on a cheap early morning flight today if possible and then maybe soon the first "
    "nonstop one with some good seats for my family around noon next week"
).split()
CITIES = (
    "boston denver dallas atlanta seattle miami chicago houston phoenix detroit oakland tampa "
    "memphis orlando newark toronto montreal pittsburgh baltimore charlotte"
).split()

Example = tuple[list[str], list[str], int]  # tokens, tags, k (filler words between cue and city)


def probe_sentence(cue: str, k: int, rng: random.Random) -> Example:
    tokens = [*PREFIX, cue, *(rng.choice(FILLERS) for _ in range(k)), rng.choice(CITIES)]
    tags = ["O"] * (len(tokens) - 1) + [f"B-{CUES[cue]}"]
    return tokens, tags, k


def probe_data(n: int, ks: Sequence[int], seed: int = 0) -> list[Example]:
    """``n`` sentences, cues balanced, ``k`` drawn uniformly from ``ks``."""
    rng = random.Random(seed)
    cues = sorted(CUES)
    return [probe_sentence(cues[i % 2], rng.choice(list(ks)), rng) for i in range(n)]


def probe_vocabs() -> Vocabularies:
    """Every probe word and both tags, so any generated sentence is in vocabulary."""
    tokens = [[*PREFIX, *CUES, *FILLERS, *CITIES]]
    tags = [["O"] * (len(tokens[0]) - 2) + [f"B-{t}" for t in CUES.values()]]
    return Vocabularies.from_training_data(tokens, tags, ["flight"])


def probe_model(
    cell: str,
    hidden: int = 32,
    forget_bias: float = 1.0,
    bidirectional: bool = False,
    num_layers: int = 1,
    seed: int = 0,
    word_dim: int = 16,
) -> SlotModel:
    """A small tagger for the probe (no characters, no dropout: memory is all it can use)."""
    torch.manual_seed(seed)
    config = NetConfig(
        cell=cell,
        word_dim=word_dim,
        hidden_size=hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=0.0,
        embed_dropout=0.0,
        output_dropout=0.0,
        forget_bias=forget_bias,
        char_dim=0,
    )
    return SlotModel(config, probe_vocabs(), meta={"dataset": "probe"})


def encode(model: SlotModel, examples: Sequence[Example]) -> dict:
    return collate([encode_example(t, g, "flight", model.vocabs, i) for i, (t, g, _) in enumerate(examples)])


def train_probe(
    model: SlotModel,
    examples: Sequence[Example],
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    clip: float = 5.0,
    seed: int = 0,
    every: int = 0,
    valid: Sequence[Example] | None = None,
    by_distance: bool = False,
) -> list[dict]:
    """Adam on random batches; with ``every`` and ``valid``, ``{"step", "loss", "f1"}`` every ``every``
    steps (and ``f1_by_k`` with ``by_distance``)."""
    rng = random.Random(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[dict] = []

    def point(step: int, loss: float) -> dict:
        out = {"step": step, "loss": loss, "f1": slot_f1(model, valid)}
        if by_distance:
            out["f1_by_k"] = f1_by_distance(model, valid)
        return out

    if every and valid is not None:
        history.append(point(0, float("nan")))
    model.train()
    running = []
    for step in range(1, steps + 1):
        batch = encode(model, rng.sample(list(examples), min(batch_size, len(examples))))
        emissions, intents = model(batch)
        loss = model.loss(emissions, intents, batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        running.append(float(loss.detach()))
        if every and valid is not None and step % every == 0:
            history.append(point(step, sum(running) / len(running)))
            running = []
            model.train()
    model.eval()
    return history


def slot_f1(model: SlotModel, examples: Sequence[Example]) -> float:
    pred = [r["tags"] for r in model.predict([t for t, _, _ in examples])]
    return slot_scores([g for _, g, _ in examples], pred)["f1"]


def f1_by_distance(model: SlotModel, examples: Sequence[Example]) -> dict[int, float]:
    """Slot F1 of the examples with each ``k`` (filler words between cue and city)."""
    by_k: dict[int, list[Example]] = {}
    for ex in examples:
        by_k.setdefault(ex[2], []).append(ex)
    return {k: slot_f1(model, exs) for k, exs in sorted(by_k.items())}


def gradient_norms(model: SlotModel, examples: Sequence[Example]) -> list[float]:
    """Median over sentences of ``||d loss_last / d x_t||`` by distance ``T - 1 - t`` from the last token.

    ``x_t`` is the input (word embedding) at position ``t``; the loss is the cross-entropy of
    the last token's tag alone, so every gradient reaching ``x_t`` crossed ``T - 1 - t``
    recurrent steps. Sentences must all have the same length.
    """
    lengths = {len(t) for t, _, _ in examples}
    if len(lengths) != 1:
        raise ValueError(f"gradient_norms needs sentences of one length, got {sorted(lengths)}")
    batch = encode(model, examples)
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["x"] = output

    handle = model.net.word_embed.register_forward_hook(keep)
    was_training = model.training
    model.eval()  # no dropout (there is none in probe models; other models too)
    try:
        emissions, _ = model(batch)
        gold = batch["tags"][:, -1]
        loss = torch.nn.functional.cross_entropy(emissions[:, -1], gold, reduction="sum")
        model.zero_grad()
        loss.backward()
    finally:
        handle.remove()
        model.train(was_training)
    norms = captured["x"].grad.norm(dim=-1)  # [B, T]
    per_distance = norms.flip(1).median(dim=0).values  # distance 0 = the last token
    return [float(v) for v in per_distance]
