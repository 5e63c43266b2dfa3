"""transfer.py: init_from copies a trained model's weights row by row where the vocabularies differ."""

import pytest
import torch

from slotfill.core.vocab import Vocabularies
from slotfill.errors import CheckpointError
from slotfill.models import NetConfig
from slotfill.models.slot_model import SlotModel
from slotfill.training.transfer import VOCAB_AXES, init_from
from tests.helpers import tiny_model

CONFIG = dict(
    word_dim=8,
    hidden_size=6,
    char_dim=4,
    char_filters=5,
    intent=True,
    crf=True,
    intent_to_slot=True,
    co_interaction=True,
)


def _model(tokens, tags, intents, seed):
    torch.manual_seed(seed)
    return SlotModel(NetConfig(**CONFIG), Vocabularies.from_training_data(tokens, tags, intents))


def test_shared_entries_are_copied_and_new_ones_keep_fresh_rows():
    old = _model([["fly", "to", "taipei"]], [["O", "O", "B-to"]], ["flight"], seed=0)
    new = _model([["fly", "to", "zurich", "now"]], [["O", "O", "B-to", "B-time"]], ["flight#fare"], seed=1)
    fresh = {k: v.clone() for k, v in new.net.state_dict().items()}
    shared = init_from(new, old)
    assert shared["words"] == 4 and shared["tags"] == 2 and shared["intents"] == 1  # <pad> <unk> fly to; O B-to
    w_old, w_new = old.vocabs.words.stoi, new.vocabs.words.stoi
    emb_old, emb_new = old.net.word_embed.weight, new.net.word_embed.weight
    assert torch.equal(emb_new[w_new["fly"]], emb_old[w_old["fly"]])
    assert torch.equal(emb_new[w_new["zurich"]], fresh["word_embed.weight"][w_new["zurich"]])
    t_old, t_new = old.vocabs.tags.stoi, new.vocabs.tags.stoi
    trans_old, trans_new = old.net.crf.transitions, new.net.crf.transitions
    assert trans_new[t_new["O"], t_new["B-to"]] == trans_old[t_old["O"], t_old["B-to"]]
    assert trans_new[t_new["B-time"], t_new["O"]] == fresh["crf.transitions"][t_new["B-time"], t_new["O"]]
    for name, value in new.net.state_dict().items():
        if name not in VOCAB_AXES:
            assert torch.equal(value, old.net.state_dict()[name]), name


def test_another_architecture_is_refused():
    with pytest.raises(CheckpointError, match="architecture"):
        init_from(tiny_model(), tiny_model(crf=True))


def test_lexicon_types_the_model_file_lacks_are_one_line_not_a_size_mismatch():
    """A Rasa file's lookup table adds a type: a column of the first layer's input the source never had."""
    from slotfill.core.lexicon import Lexicon
    from tests.helpers import tiny_vocabs

    source = tiny_model(lexicon=True)
    vocabs = tiny_vocabs(lexicon=True)
    vocabs.lexicon = Lexicon({**{t: vocabs.lexicon.entries[t] for t in vocabs.lexicon.types}, "airline": ["klm"]})
    target = SlotModel(source.config, vocabs)
    with pytest.raises(CheckpointError, match=r"the new training data adds airline \(Rasa lookup tables\?\)"):
        init_from(target, source)
    with pytest.raises(CheckpointError, match=r"it lacks the model file's airline"):  # the other way round
        init_from(SlotModel(source.config, source.vocabs), target)  # the model file has airline, the data not
