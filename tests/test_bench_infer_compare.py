"""bench/infer_compare.py: the format-3 copy an older reference commit reads is the same model."""

import sys

import torch

from tests.helpers import ROOT, tiny_model

sys.path.insert(0, str(ROOT / "bench"))
from infer_compare import format3_copy  # noqa: E402


def test_the_format3_copy_keeps_the_model_and_lists_the_lexicon_entries(tmp_path):
    from slotfill.models.slot_model import SlotModel

    model = tiny_model(lexicon=True, intent=True)
    path = model.save(tmp_path / "model.pt")
    copy = format3_copy(path, tmp_path / "old.pt")
    raw = torch.load(copy, weights_only=True)
    assert raw["format"] == 3
    assert all(isinstance(e, list) for e in raw["vocabs"]["lexicon"]["entries"].values())  # format 3's layout
    again = SlotModel.load(copy)  # fingerprints checked on load: the same weights, settings and vocabularies
    assert again.fingerprint() == model.fingerprint()
    assert again.vocabs.lexicon.entries == model.vocabs.lexicon.entries
