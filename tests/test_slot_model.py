"""slot_model.py: SlotModel builds from its config and vocabularies, decodes, and owns the model file."""

import pytest
import torch

from slotfill.core.schema import FORMAT_VERSION
from slotfill.errors import CheckpointError, ConfigError
from slotfill.models.slot_model import CHECKPOINT_KEY, SlotModel
from tests.helpers import ROOT, labelled_batch, tiny_model

SENTENCES = [["i", "want", "to", "leave", "taipei"], ["arrive", "in", "new", "york"], ["zzyzx"]]


@pytest.mark.parametrize("crf", [False, True])
def test_sizes_come_from_the_vocabularies(crf):
    model = tiny_model(crf=crf, intent=True)
    v = model.vocabs
    assert model.net.word_embed.num_embeddings == len(v.words)
    assert model.net.char_cnn.embed.num_embeddings == len(v.chars)
    assert model.net.tag_head.out_features == len(v.tags)
    assert model.net.intent_head.out_features == len(v.intents)
    emissions, intents = model(model.encode(SENTENCES))
    assert emissions.shape == (3, 5, len(v.tags)) and intents.shape == (3, len(v.intents))


@pytest.mark.parametrize("crf, lexicon", [(False, False), (True, False), (False, True)])
def test_save_load_round_trip_predicts_the_same(tmp_path, crf, lexicon):
    model = tiny_model(crf=crf, intent=True, lexicon=lexicon)
    path = model.save(tmp_path / "model.pt")
    loaded = SlotModel.load(path)
    assert not loaded.training
    assert loaded.config == model.config and loaded.meta["dataset"] == "tiny"
    assert loaded.fingerprint() == model.fingerprint()
    assert loaded.predict(SENTENCES) == model.predict(SENTENCES)
    state = torch.load(path, weights_only=True)
    assert state["format"] == FORMAT_VERSION and state["model"]["crf"] == crf
    assert state["weights_sha256"] == model.weights_digest() and state["fingerprint"] == model.fingerprint()
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed, not left behind


def test_decode_is_what_predict_returns():
    model = tiny_model(crf=True, intent=True)
    batch = model.encode(SENTENCES)
    with torch.no_grad():
        emissions, intents = model(batch)
    decoded = model.decode(emissions, intents, batch["lengths"])
    assert model.predict(SENTENCES, batch_size=3) == decoded
    for r, s in zip(decoded, SENTENCES):
        assert len(r["tags"]) == len(r["probs"]) == len(s)
        assert all(0.0 <= p <= 1.0 for p in r["probs"])
        assert r["intent"] in ("flight", "flight#airfare", "airfare#flight") and 0 < r["intent_confidence"] <= 1
    # validation asks for no confidences; the labels are the same
    without = model.decode(emissions, intents, batch["lengths"], confidence=False)
    assert [r["tags"] for r in without] == [r["tags"] for r in decoded] and without[0]["probs"] is None


def test_predict_keeps_order_across_batches_and_handles_empty_sentences():
    model = tiny_model(intent=True)
    sentences = [SENTENCES[1], [], SENTENCES[0], SENTENCES[2]]
    together = model.predict(sentences, batch_size=2)
    assert together[1] == {"tags": [], "probs": [], "intent": None, "intent_confidence": None, "intent_ranking": []}
    assert [r["tags"] for r in together] == [model.predict([s])[0]["tags"] for s in sentences]
    for bad in (0, -1, "abc"):
        with pytest.raises(ConfigError, match="batch_size"):
            model.predict(SENTENCES, batch_size=bad)


def test_a_newer_format_is_refused_naming_both_versions(tmp_path):
    state = tiny_model().state()
    state["format"] = FORMAT_VERSION + 1
    torch.save(state, tmp_path / "future.pt")
    with pytest.raises(CheckpointError) as err:
        SlotModel.load(tmp_path / "future.pt")
    message = str(err.value)
    assert f"format {FORMAT_VERSION + 1}" in message and f"up to {FORMAT_VERSION}" in message


def _format1(model: SlotModel) -> dict:
    """A model file as slotfill wrote it in format 1."""
    state = model.state()
    return {
        "format": 1,
        "net": state["model"],
        "vocabs": state["vocabs"],
        "dataset": "tiny",
        "state_dict": state["state_dict"],
    }


def test_format_1_model_files_and_lightning_checkpoints_still_load(tmp_path):
    model = tiny_model(crf=True, intent=True)
    old = _format1(model)
    torch.save(old, tmp_path / "model.pt")
    assert SlotModel.load(tmp_path / "model.pt").predict(SENTENCES) == model.predict(SENTENCES)
    # a format-1 Lightning checkpoint kept the weights under the module's "net." prefix
    weights = {f"net.{k}": v for k, v in old.pop("state_dict").items()}
    torch.save({CHECKPOINT_KEY: old, "state_dict": weights, "epoch": 3}, tmp_path / "old.ckpt")
    loaded = SlotModel.load(tmp_path / "old.ckpt")
    assert loaded.predict(SENTENCES) == model.predict(SENTENCES) and loaded.meta["dataset"] == "tiny"
    no_version = {k: v for k, v in _format1(model).items() if k != "format"}
    torch.save(no_version, tmp_path / "unversioned.pt")
    assert SlotModel.load(tmp_path / "unversioned.pt").fingerprint() == model.fingerprint()


def test_damaged_or_diverged_weights_are_refused(tmp_path):
    model = tiny_model()
    state = model.state()
    state["state_dict"]["tag_head.bias"][0] += 1.0
    torch.save(state, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="fingerprint"):
        SlotModel.load(tmp_path / "edited.pt")
    with torch.no_grad():
        model.net.tag_head.bias[0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN or infinity"):
        model.save(tmp_path / "nan.pt")
    assert not (tmp_path / "nan.pt").exists()
    raw = _format1(tiny_model())  # format 1 had no fingerprint: the finiteness check still holds
    raw["state_dict"] = {k: v.clone() for k, v in model.net.state_dict().items()}
    torch.save(raw, tmp_path / "nan_unsigned.pt")
    with pytest.raises(CheckpointError, match="NaN or infinity"):
        SlotModel.load(tmp_path / "nan_unsigned.pt")


def _swap_two_tags(state: dict) -> None:
    itos = state["vocabs"]["tags"]["itos"]
    itos[-1], itos[-2] = itos[-2], itos[-1]


def _flip_a_word(state: dict) -> None:
    itos = state["vocabs"]["words"]["itos"]
    itos[-1] = itos[-1][:-1] + chr(ord(itos[-1][-1]) ^ 1)


def _edit_settings(state: dict) -> None:
    state["model"]["dropout"] = 0.123


@pytest.mark.parametrize("edit", [_swap_two_tags, _flip_a_word, _edit_settings])
def test_edited_vocabularies_or_settings_are_refused(tmp_path, edit):
    """Everything that decides an answer is fingerprinted, not the weights alone."""
    state = tiny_model(intent=True).state()
    edit(state)
    torch.save(state, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="vocabularies and settings.*does not match its recorded fingerprint"):
        SlotModel.load(tmp_path / "edited.pt")


@pytest.mark.parametrize("key", ["weights_sha256", "fingerprint"])
@pytest.mark.parametrize("value", [None, ""])
def test_a_current_file_without_its_fingerprints_is_refused(tmp_path, key, value):
    state = tiny_model().state()
    if value is None:
        state.pop(key)
    else:
        state[key] = value
    torch.save(state, tmp_path / "unsigned.pt")
    with pytest.raises(CheckpointError, match="carr(y|ies) no fingerprint"):
        SlotModel.load(tmp_path / "unsigned.pt")


def test_a_format_2_file_is_held_to_its_weights_fingerprint(tmp_path):
    state = tiny_model().state()
    state["format"] = 2
    state.pop("fingerprint")
    torch.save(state, tmp_path / "v2.pt")
    assert SlotModel.load(tmp_path / "v2.pt").weights_digest() == state["weights_sha256"]
    state["weights_sha256"] = ""
    torch.save(state, tmp_path / "v2_unsigned.pt")
    with pytest.raises(CheckpointError, match="carry no fingerprint"):
        SlotModel.load(tmp_path / "v2_unsigned.pt")


def test_bad_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        SlotModel.load(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"\x00garbage" * 10)
    again = ": copy it again, or train again$"
    with pytest.raises(
        CheckpointError, match=r"corrupt.pt: not a readable checkpoint \(not a file torch.save wrote\)" + again
    ):
        SlotModel.load(tmp_path / "corrupt.pt")
    whole = tiny_model().save(tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[: len(whole) // 2])  # a copy that stopped half way
    with pytest.raises(CheckpointError, match=r"cut.pt: not a readable checkpoint \(cut short or damaged\)" + again):
        SlotModel.load(tmp_path / "cut.pt")
    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a slotfill checkpoint"):
        SlotModel.load(tmp_path / "other.pt")
    state = tiny_model().state()
    state["model"]["hidden_size"] = 7
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        SlotModel.load(tmp_path / "mismatch.pt")


def test_a_checkpoint_with_code_is_refused(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"vocabs": Evil(), "state_dict": {}}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        SlotModel.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_loss_uses_the_batch_labels():
    model = tiny_model(intent=True).train()
    batch = labelled_batch(model.vocabs, SENTENCES[:2])
    loss = model.loss(*model(batch), batch)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.net.intent_head.weight.grad is not None


def test_lexicon_features_reach_the_network():
    model = tiny_model(lexicon=True)
    batch = model.encode([["to", "new", "york"], ["boston"]])
    assert batch["lexicon"].shape == (2, 3, 2)  # [sentences, tokens, types]: city, state
    assert batch["lexicon"][0, :, 0].tolist() == [1, 2, 3] and batch["lexicon"][1, :, 0].tolist() == [2, 0, 0]
    emissions, _ = model(batch)
    hidden = dict(batch, lexicon=batch["lexicon"].clamp(max=1))  # every match hidden
    assert not torch.allclose(emissions, model(hidden)[0])
    assert model.net.lexicon_embed.num_embeddings == 4 * 2


def test_model_files_keep_each_lexicon_type_as_one_string_and_format_3_lists_still_load(tmp_path):
    model = tiny_model(intent=True, lexicon=True)
    state = torch.load(model.save(tmp_path / "model.pt"), weights_only=True)
    stored = state["vocabs"]["lexicon"]["entries"]
    assert all(isinstance(v, str) for v in stored.values())
    assert {t: v.split("\n") for t, v in stored.items()} == model.vocabs.lexicon.entries
    # format 3 kept lists; its fingerprint is over the same vocabularies, so it still checks out
    state["format"], state["vocabs"] = 3, model.vocabs.to_dict()
    torch.save(state, tmp_path / "format3.pt")
    loaded = SlotModel.load(tmp_path / "format3.pt")
    assert loaded.fingerprint() == model.fingerprint() and loaded.predict(SENTENCES) == model.predict(SENTENCES)
    # an entry edited in the packed form is caught like any other edit
    state["format"], state["vocabs"] = FORMAT_VERSION, model.vocabs.to_dict(packed=True)
    state["vocabs"]["lexicon"]["entries"]["city"] += "\nnowhere"
    torch.save(state, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="does not match its recorded fingerprint"):
        SlotModel.load(tmp_path / "edited.pt")


def test_a_model_file_written_before_the_package_layout_changed_still_loads():
    """``tests/data/model_format2_v0.1.0.pt``: a tiny model (lexicon, intent) saved by slotfill 0.1.0 at
    commit da79645, before the modules moved into packages; the file holds no module paths."""
    import json

    from slotfill.inference.tagger import SlotTagger

    data = ROOT / "tests" / "data"
    tagger = SlotTagger.load(data / "model_format2_v0.1.0.pt")
    expected = json.loads((data / "model_format2_v0.1.0.expected.json").read_text())
    (got,) = tagger.predict(["i want to leave taipei and arrive in new york"])
    ranking = got.pop("intent_ranking")  # added since: the expected answer predates it
    for span in got["spans"]:  # so does a span's value (its text: the model has no synonyms)
        assert span.pop("value") == span["text"]
    assert [got] == expected
    assert ranking[0] == {"name": got["intent"], "confidence": got["intent_confidence"]}


def _run_folder(folder, seed: int, weights_seed: int, checkpoint_seed: int, init_from: str | None = None):
    """A run folder as training leaves it: model.pt, run.json and checkpoints/last.ckpt (another epoch)."""
    import json

    from slotfill.core.schema import RUN_KEY  # the key training writes the run record under

    config = {"seed": seed, "model": {"hidden_size": 6}, "output_dir": str(folder), "resume": None}
    config["init_from"] = init_from
    model = tiny_model(seed=weights_seed, intent=True)
    model.meta["data_sha256"] = "d" * 64
    model.save(folder / "model.pt")
    (folder / "run.json").write_text(json.dumps({"status": "completed", "config": config}))
    epoch = tiny_model(seed=checkpoint_seed, intent=True)
    epoch.meta["data_sha256"] = "d" * 64
    (folder / "checkpoints").mkdir()
    record = {"config": config, "data_sha256": "d" * 64}
    torch.save({CHECKPOINT_KEY: epoch.state(), RUN_KEY: record}, folder / "checkpoints" / "last.ckpt")
    return folder


@pytest.mark.slow  # imports Lightning (the run record's writer)
def test_two_epochs_of_one_run_are_not_an_ensemble(tmp_path):
    from slotfill.errors import SlotfillError

    run = _run_folder(tmp_path / "run", seed=1, weights_seed=0, checkpoint_seed=5)
    last = run / "checkpoints" / "last.ckpt"
    with pytest.raises(SlotfillError, match=rf"^{last}: the same run as {run} \(the same config, seed and data\)"):
        SlotModel.combine([SlotModel.load(run), SlotModel.load(last)], [run, last], distinct=True)
    other = _run_folder(tmp_path / "other", seed=2, weights_seed=1, checkpoint_seed=6)  # another seed: another run
    sources = [run, other / "checkpoints" / "last.ckpt"]
    assert SlotModel.combine([SlotModel.load(s) for s in sources], sources, distinct=True).members == 2
    # fine-tunes of two models, with the same settings and seed: two runs (where each began decides its weights)
    tuned = [
        _run_folder(tmp_path / f"tuned{i}", seed=1, weights_seed=10 + i, checkpoint_seed=20 + i, init_from=f"m{i}.pt")
        for i in (1, 2)
    ]
    assert SlotModel.combine([SlotModel.load(s) for s in tuned], tuned, distinct=True).members == 2


def test_loading_hides_torchs_protocol_remark_only_and_no_other_threads_warnings(tmp_path, monkeypatch):
    """A catch_warnings + simplefilter("ignore") around torch.load dropped every warning raised
    meanwhile, in this thread or another (the filter list is the process's)."""
    import warnings

    from slotfill.models import slot_model

    torch.save({"w": torch.zeros(2)}, tmp_path / "p3.pt", pickle_protocol=3)  # torch.save's is 2
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        slot_model._hide_protocol_remark()  # installed on import; pytest gives each test the filters it found
        assert slot_model.read_torch_file(tmp_path / "p3.pt")["w"].shape == (2,)
        assert seen == []
        real = torch.load

        def load(*args, **kwargs):
            warnings.warn("other", UserWarning, stacklevel=2)  # another source's, while a model loads
            return real(*args, **kwargs)

        monkeypatch.setattr(torch, "load", load)
        slot_model.read_torch_file(tmp_path / "p3.pt")
    assert [str(w.message) for w in seen] == ["other"]
