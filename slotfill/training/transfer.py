"""``init_from=MODEL.pt``: start a new model from a trained one's weights, row by row where vocabularies differ.

The new model's vocabularies come from its own training data. Weights indexed by a vocabulary
(word and character embeddings, tag scores, CRF transitions, the intent head, the
co-interaction's label embeddings) are copied for the entries both vocabularies share; new
words, characters, tags and intents keep their fresh initialisation. Every other weight is copied whole.
"""

from __future__ import annotations

import torch

from slotfill.errors import CheckpointError
from slotfill.models.slot_model import SlotModel

# weight name -> the vocabulary each of its leading axes is indexed by
VOCAB_AXES: dict[str, tuple[str, ...]] = {
    "word_embed.weight": ("words",),
    "char_cnn.embed.weight": ("chars",),
    "tag_head.weight": ("tags",),
    "tag_head.bias": ("tags",),
    "crf.transitions": ("tags", "tags"),
    "crf.start": ("tags",),
    "crf.end": ("tags",),
    "intent_head.weight": ("intents",),
    "intent_head.bias": ("intents",),
    "intent_to_tag.weight": ("tags", "intents"),
    "interaction.slot_labels": ("tags",),
    "interaction.intent_labels": ("intents",),
}


def _shared(source: list[str], target: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (in target, in source) of the entries both vocabularies hold."""
    where = {s: i for i, s in enumerate(source)}
    pairs = [(j, where[s]) for j, s in enumerate(target) if s in where]
    if not pairs:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    tgt, src = zip(*pairs)
    return torch.tensor(tgt), torch.tensor(src)


def init_from(target: SlotModel, source: SlotModel) -> dict[str, int]:
    """Copy ``source``'s weights into ``target`` (same architecture); counts of shared vocabulary entries."""
    if source.config != target.config:
        raise CheckpointError("init_from: the model file's architecture differs from the new model's")
    types = [list(getattr(m.vocabs.lexicon, "types", None) or []) for m in (source, target)]
    if types[0] != types[1]:  # each type is a column of the first layer's input: no row to copy it into
        added = [t for t in types[1] if t not in types[0]]
        lacking = [t for t in types[0] if t not in types[1]]
        said = [f"the new training data adds {', '.join(added)} (Rasa lookup tables?)"] if added else []
        said += [f"it lacks the model file's {', '.join(lacking)}"] if lacking else []
        said = said or [f"they come in another order ({', '.join(types[1])})"]
        raise CheckpointError(
            f"init_from: lexicon types differ from the model file's ({', '.join(types[0]) or 'none'}): "
            f"{'; '.join(said)}: give model.lexicons as the model file has them, or train without init_from"
        )
    itos = {
        name: (getattr(source.vocabs, name).itos, getattr(target.vocabs, name).itos)
        for name in ("words", "chars", "tags", "intents")
    }
    index = {name: _shared(src, tgt) for name, (src, tgt) in itos.items()}
    old = source.net.state_dict()
    with torch.no_grad():
        for name, weight in target.net.state_dict().items():
            if name not in old:
                raise CheckpointError(f"init_from: the model file has no weight {name}")
            axes = VOCAB_AXES.get(name)
            if axes is None and weight.shape != old[name].shape:
                raise CheckpointError(
                    f"init_from: {name} is {tuple(old[name].shape)} in the model file, {tuple(weight.shape)} here"
                )
            if axes is None:
                weight.copy_(old[name])
            elif len(axes) == 1:
                tgt, src = index[axes[0]]
                weight[tgt] = old[name][src]
            else:
                (t0, s0), (t1, s1) = index[axes[0]], index[axes[1]]
                weight[t0[:, None], t1[None, :]] = old[name][s0[:, None], s1[None, :]]
    return {name: len(tgt) for name, (tgt, _) in index.items()}
