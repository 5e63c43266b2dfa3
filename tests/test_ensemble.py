"""models/ensemble.py and SlotModel.combine: averaged scores, the model file, refusals, ONNX parity."""

import subprocess
import sys

import pytest
import torch

from slotfill import SlotTagger
from slotfill.errors import CheckpointError, SlotfillError
from slotfill.models.slot_model import SlotModel
from tests.helpers import ROOT, labelled_batch, tiny_model

SENTENCES = [["i", "want", "to", "leave", "taipei"], ["arrive", "in", "new", "york"]]


def _members(k=3, **net):
    net = {"intent": True, **net}
    return [tiny_model(seed=s, **net) for s in range(k)]


@pytest.mark.parametrize("crf", [False, True])
def test_scores_are_the_members_mean(crf):
    members = _members(crf=crf)
    ensemble = SlotModel.combine(members)
    batch = ensemble.encode(SENTENCES)
    emissions, intent = ensemble(batch)
    outs = [m(batch) for m in members]
    if crf:  # a path's score is the mean of its members' path scores
        torch.testing.assert_close(emissions, torch.stack([e for e, _ in outs]).mean(0))
        mean = torch.stack([m.net.crf.transitions for m in members]).mean(0)
        torch.testing.assert_close(ensemble.net.crf.transitions, mean)
    else:
        torch.testing.assert_close(emissions, torch.stack([e.log_softmax(-1) for e, _ in outs]).mean(0))
    probs = torch.stack([torch.sigmoid(i) for _, i in outs]).mean(0)
    torch.testing.assert_close(torch.sigmoid(intent), probs, atol=1e-6, rtol=1e-5)


def test_an_ensemble_of_copies_answers_as_its_model():
    model = tiny_model(seed=1, intent=True, crf=True)
    ensemble = SlotModel.combine([model, model])
    assert ensemble.members == 2
    for a, b in zip(ensemble.predict(SENTENCES), model.predict(SENTENCES)):
        assert a["tags"] == b["tags"] and a["intent"] == b["intent"]
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-5)
        assert a["intent_confidence"] == pytest.approx(b["intent_confidence"], abs=2e-4)


def test_the_model_file_round_trips_and_is_checked(tmp_path):
    ensemble = SlotModel.combine(_members(crf=True), ["a/model.pt", "b/model.pt", "c/model.pt"])
    path = ensemble.save(tmp_path / "ensemble.pt")
    back = SlotModel.load(path)
    assert back.members == 3 and back.fingerprint() == ensemble.fingerprint()
    assert [e["file"] for e in back.meta["ensemble_of"]] == ["a/model.pt", "b/model.pt", "c/model.pt"]
    assert back.predict(SENTENCES) == ensemble.predict(SENTENCES)
    # one member's weight edited by hand: refused like any edited model file
    state = torch.load(path, weights_only=True)
    state["state_dict"]["members.1.tag_head.bias"] += 1.0
    torch.save(state, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="do not match their recorded fingerprint"):
        SlotModel.load(tmp_path / "edited.pt")


def test_an_ensemble_records_its_members_files_absolute_and_an_older_relative_record_loads(tmp_path, monkeypatch):
    for i, member in enumerate(_members(2)):
        member.save(tmp_path / f"run{i}" / "model.pt")
    monkeypatch.chdir(tmp_path)
    ensemble = SlotModel.combine([SlotModel.load("run0"), SlotModel.load("run1")], ["run0", "run1"], distinct=True)
    files = [e["file"] for e in ensemble.meta["ensemble_of"]]
    assert files == [str(tmp_path / f"run{i}" / "model.pt") for i in range(2)]  # read back from any folder
    # an ensemble saved by an earlier version, its members' files as typed: loads, its record as it was
    state = ensemble.state()
    state["ensemble_of"] = [{**e, "file": f"run{i}"} for i, e in enumerate(state["ensemble_of"])]
    torch.save(state, tmp_path / "older.pt")
    assert [e["file"] for e in SlotModel.load(tmp_path / "older.pt").meta["ensemble_of"]] == ["run0", "run1"]


def test_an_ensemble_is_not_trained():
    ensemble = SlotModel.combine(_members(2))
    batch = labelled_batch(ensemble.vocabs, SENTENCES)
    emissions, intent = ensemble(batch)
    with pytest.raises(SlotfillError, match="an ensemble is not trained"):
        ensemble.loss(emissions, intent, batch)


def test_models_that_cannot_be_averaged_are_refused():
    with pytest.raises(SlotfillError, match="at least 2"):
        SlotModel.combine(_members(1))
    with pytest.raises(SlotfillError, match=r"b: model.crf=True, but a has False: .*one architecture"):
        SlotModel.combine([tiny_model(intent=True), tiny_model(intent=True, crf=True)], ["a", "b"])
    with pytest.raises(SlotfillError, match="vocabularies differ"):
        SlotModel.combine([tiny_model(intent=True), tiny_model(intent=True, lexicon=True)], ["a", "b"])
    with pytest.raises(SlotfillError, match="already an ensemble of 2"):
        SlotModel.combine([SlotModel.combine(_members(2)), tiny_model(intent=True)])


@pytest.mark.slow
def test_the_ensemble_command_writes_a_model_every_door_reads(tmp_path):
    pytest.importorskip("onnxruntime")
    runs = []
    for s, member in enumerate(_members(2, crf=True, intent_encoder="separate", co_interaction=True)):
        runs.append(str(member.save(tmp_path / f"run{s}" / "model.pt").parent))
    out = tmp_path / "ensemble.pt"
    done = subprocess.run(
        [sys.executable, "-m", "slotfill", "ensemble", *runs, "-o", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "an ensemble of 2 models" in done.stdout and out.is_file()
    from slotfill.inference.onnx_forward import check_parity
    from slotfill.models.onnx_export import export_onnx, onnx_path_for

    model = SlotModel.load(out)
    check_parity(model, export_onnx(model, onnx_path_for(out)))
    text = ["i want to leave taipei", "arrive in new york"]
    eager, onnx = SlotTagger.load(out).predict(text), SlotTagger.load(out, backend="onnx").predict(text)
    assert [r["tags"] for r in eager] == [r["tags"] for r in onnx]
    bad = subprocess.run(
        [sys.executable, "-m", "slotfill", "ensemble", runs[0], "-o", str(tmp_path / "x.pt")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.strip().endswith("an ensemble needs at least 2 models")
    assert not (tmp_path / "x.pt").exists()


def test_a_model_named_twice_is_refused_and_differing_training_settings_are_each_members():
    a, b = _members(2)
    with pytest.raises(SlotfillError, match=r"^run: named twice: an ensemble's models are different runs"):
        SlotModel.combine([a, SlotModel.from_state(a.state())], ["run", "run"], distinct=True)
    a.meta["train"], b.meta["train"] = {"lr": 0.001, "word_dropout": 0.05}, {"lr": 0.001, "word_dropout": 0.15}
    ensemble = SlotModel.combine([a, b], ["a", "b"])
    assert ensemble.meta["train"] == {"lr": 0.001}
    assert [m["train"] for m in ensemble.meta["ensemble_of"]] == [{"word_dropout": 0.05}, {"word_dropout": 0.15}]


def test_a_setting_left_at_its_default_is_named_with_its_value():
    with pytest.raises(SlotfillError, match=r"b: model.co_interaction=True, but a has False"):
        SlotModel.combine([tiny_model(intent=True), tiny_model(intent=True, co_interaction=True)], ["a", "b"])


@pytest.mark.parametrize("output", ["{run}/model.pt", "{tmp}/ensemble.onnx", "{tmp}/trained.pt", "{tmp}/notes.pt"])
def test_the_ensemble_command_never_writes_over_a_member_nor_as_a_graph(tmp_path, capsys, output):
    from slotfill.cli.main import main

    runs = [str(m.save(tmp_path / f"run{i}" / "model.pt").parent) for i, m in enumerate(_members(2))]
    before = (tmp_path / "run0" / "model.pt").read_bytes()
    tiny_model().save(tmp_path / "trained.pt")  # a trained model that is not a member: never written over
    (tmp_path / "notes.pt").write_text("not a model")
    kept = {p.name: p.read_bytes() for p in (tmp_path / "trained.pt", tmp_path / "notes.pt")}
    out = output.replace("{run}", runs[0]).replace("{tmp}", str(tmp_path))
    with pytest.raises(SystemExit) as e:
        main(["ensemble", *runs, "-o", out])
    assert e.value.code == 2 and capsys.readouterr().err.startswith(f"error: -o {out}: ")
    assert (tmp_path / "run0" / "model.pt").read_bytes() == before and not (tmp_path / "ensemble.onnx").exists()
    assert {p.name: p.read_bytes() for p in (tmp_path / "trained.pt", tmp_path / "notes.pt")} == kept
    main(["ensemble", *runs, "-o", str(tmp_path / "ens.pt")])
    main(["ensemble", *runs, "-o", str(tmp_path / "ens.pt")])  # an earlier ensemble is replaced
    (tmp_path / "empty.pt").write_bytes(b"")  # and so is an empty file
    main(["ensemble", *runs, "-o", str(tmp_path / "empty.pt")])


def test_an_ensemble_written_over_an_earlier_one_removes_the_earlier_ones_export(tmp_path, capsys):
    from slotfill.cli.main import main

    runs = [str(m.save(tmp_path / f"run{i}" / "model.pt").parent) for i, m in enumerate(_members(3))]
    out = tmp_path / "e2.pt"
    main(["ensemble", *runs[:2], "-o", str(out)])
    derived = ["e2.onnx", "e2.onnx.json", "e2.int8.onnx", "e2.int8.onnx.json", "e2.MODEL_CARD.md"]
    for name in [*derived, "other.onnx"]:  # as slotfill export ckpt=e2.pt leaves them (other.onnx: not its)
        (tmp_path / name).write_text("the earlier ensemble's")
    capsys.readouterr()
    main(["ensemble", runs[0], runs[2], "-o", str(out)])
    said = capsys.readouterr().out.splitlines()
    assert not [n for n in derived if (tmp_path / n).exists()] and (tmp_path / "other.onnx").is_file()
    assert said[-1].startswith("removed the earlier ensemble's export: ") and all(n in said[-1] for n in derived)
    main(["ensemble", *runs[:2], "-o", str(out)])  # nothing exported since: nothing to say
    assert "removed" not in capsys.readouterr().out
