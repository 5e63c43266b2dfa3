"""onnx_tagger.py: model.onnx + sidecar tag like the torch tagger, without model.pt or torch."""

import json
import subprocess
import sys

import pytest

from slotfill import SlotTagger
from slotfill.errors import CheckpointError
from slotfill.inference.onnx_tagger import OnnxTagger
from slotfill.models.onnx_export import export_onnx, onnx_path_for
from slotfill.models.slot_model import SlotModel
from tests.helpers import ROOT, tiny_model

pytest.importorskip("onnxruntime")
SENTENCES = ["i want to leave taipei", "", "arrive in new york " * 140, "Zürich to taipei, please", "boston"]
NETS = [({"intent": True}, False), ({"crf": True, "intent": True, "intent_encoder": "separate"}, False), ({}, True)]


def _export(tmp_path, net, lexicon, seed=0):
    model = tiny_model(seed=seed, lexicon=lexicon, **net)
    ckpt = model.save(tmp_path / "model.pt")
    return ckpt, export_onnx(model, onnx_path_for(ckpt))


@pytest.mark.slow
@pytest.mark.parametrize("net, lexicon", NETS)
def test_numpy_path_tags_like_torch(tmp_path, net, lexicon):
    ckpt, graph = _export(tmp_path, net, lexicon)
    eager = SlotTagger.load(ckpt).predict(SENTENCES)
    ckpt.unlink()  # the graph and its sidecar are enough
    onnx = OnnxTagger.load(graph).predict(SENTENCES)
    for x, y in zip(eager, onnx):
        assert x["tags"] == y["tags"] and x["intent"] == y["intent"] and x["tokens"] == y["tokens"]
        assert [(s["slot"], s["start"], s["end"]) for s in x["spans"]] == [
            (s["slot"], s["start"], s["end"]) for s in y["spans"]
        ]
        for s, t in zip(x["spans"], y["spans"]):
            assert s["confidence"] == pytest.approx(t["confidence"], abs=1e-3)
        if x["intent_confidence"] is not None:
            assert x["intent_confidence"] == pytest.approx(y["intent_confidence"], abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("net, lexicon", NETS)
def test_nbest_is_the_same_without_torch(tmp_path, net, lexicon):
    ckpt, graph = _export(tmp_path, net, lexicon)
    eager = SlotTagger.load(ckpt).predict(SENTENCES, nbest=3)
    onnx = OnnxTagger.load(graph).predict(SENTENCES, nbest=3)
    for x, y in zip(eager, onnx):
        assert [a["tags"] for a in x["nbest"]] == [a["tags"] for a in y["nbest"]]
        for a, b in zip(x["nbest"], y["nbest"]):
            assert (a["probability"] is None) == (b["probability"] is None)
            if a["probability"] is not None:
                assert a["log_probability"] == pytest.approx(b["log_probability"], abs=1e-3)
    assert len(eager[2]["nbest"]) == 1  # over 512 tokens: its best sequence only


@pytest.mark.slow
def test_pickled_taggers_run_without_their_files_the_onnx_one_without_torch(tmp_path):
    import pickle

    from tests.test_tagger import UNPICKLE

    ckpt, graph = _export(tmp_path, {"intent": True}, True)
    text = ["i want to leave taipei and arrive in boston"]
    onnx, eager_on_onnx = OnnxTagger.load(graph), SlotTagger.load(ckpt, backend="onnx")
    expected = onnx.predict(text)
    blobs = {"onnx": pickle.dumps(onnx), "torch-onnx": pickle.dumps(eager_on_onnx)}
    for f in tmp_path.iterdir():
        f.unlink()  # neither model.pt nor the graph and its sidecar remain
    for name, blob in blobs.items():
        (tmp_path / name).write_bytes(blob)
        mode = "no-torch" if name == "onnx" else "torch"
        proc = subprocess.run(
            [sys.executable, "-c", UNPICKLE, str(tmp_path / name), mode], cwd=ROOT, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        got = json.loads(proc.stdout)
        assert [r["tags"] for r in got] == [r["tags"] for r in expected] and got[0]["intent"] == expected[0]["intent"]


@pytest.mark.slow  # ~0.7-1.1 s
def test_pre_tokenised_and_card(tmp_path):
    ckpt, graph = _export(tmp_path, {"intent": True}, False)
    tagger = OnnxTagger.load(ckpt)  # the graph beside a model.pt path
    sentences = [["arrive", "in", "boston"], []]
    assert [r["tags"] for r in tagger.predict_tokens(sentences)] == [
        r["tags"] for r in SlotTagger.load(ckpt).predict_tokens(sentences)
    ]
    assert tagger.card["weights_sha256"] and tagger.card["dataset"] == "tiny" and "vocabs" not in tagger.card


def test_missing_or_broken_files_are_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no ONNX model"):
        OnnxTagger.load(tmp_path / "model.onnx")
    _, graph = _export(tmp_path, {}, False)
    sidecar = graph.with_name(graph.name + ".json")
    sidecar.write_text("{")
    with pytest.raises(CheckpointError, match="not a readable sidecar"):
        OnnxTagger.load(graph)
    sidecar.unlink()
    with pytest.raises(CheckpointError, match="sidecar is missing"):
        OnnxTagger.load(graph)


NO_TORCH = """
import sys, json
sys.modules["torch"] = None  # any import of torch now fails
from fastapi.testclient import TestClient
from slotfill.inference.onnx_tagger import OnnxTagger
from slotfill.serving.app import create_app
from slotfill.serving.backend import load_backend
graph = sys.argv[1]
out = {"predict": OnnxTagger.load(graph).predict(["i want to leave taipei"])[0]["tags"]}
with TestClient(create_app(load_backend(graph))) as client:  # backend chosen from the file
    out["parse"] = client.post("/parse", json={"text": "i want to leave taipei"}).json()["tags"]
    out["version"] = client.get("/version").json()["backend"]
from slotfill.cli.main import main  # the CLI path of `slotfill serve`, up to loading the model
try:
    main(["serve", "ckpt=" + graph + ".missing.onnx"])
except SystemExit as e:
    out["serve_exit"] = e.code
import contextlib, io
answer = io.StringIO()
with contextlib.redirect_stdout(answer):  # slotfill predict ckpt=model.onnx: no backend= needed, no model.pt
    out["predict_exit"] = main(["predict", "ckpt=" + graph, "format=jsonl", "i want to leave taipei"])
out["cli"] = json.loads(answer.getvalue())["tags"]
out["torch"] = sys.modules["torch"] is None
print(json.dumps(out))
"""


@pytest.mark.slow
def test_tags_and_serves_with_torch_blocked(tmp_path):
    ckpt, graph = _export(tmp_path, {"intent": True}, True)
    expected = SlotTagger.load(ckpt).predict(["i want to leave taipei"])[0]["tags"]
    ckpt.unlink()
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(graph)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out == {
        **{"predict": expected, "parse": expected, "version": "onnx", "serve_exit": 2, "torch": True},
        **{"predict_exit": 0, "cli": expected},
    }
    assert "no ONNX model" in proc.stderr


def test_a_run_folder_means_its_graph_and_one_without_a_graph_is_one_line(tmp_path, tiny_model_file):
    with pytest.raises(CheckpointError, match="a folder without model.onnx .*slotfill export ckpt="):
        OnnxTagger.load(tiny_model_file.parent)
    export_onnx(SlotModel.load(tiny_model_file), onnx_path_for(tiny_model_file))
    assert OnnxTagger.load(tiny_model_file.parent).predict(["to boston"])[0]["tokens"] == ["to", "boston"]


def test_a_folder_holding_only_the_graph_loads_on_onnx_runtime(tmp_path):
    """A torch-free image ships model.onnx and its sidecar alone: load_tagger(folder) chose torch before."""
    from slotfill.inference.loading import load_tagger

    ckpt, _ = _export(tmp_path, {"intent": True}, False)
    ckpt.unlink()
    tagger = load_tagger(tmp_path)
    assert isinstance(tagger, OnnxTagger) and tagger.predict(["to boston"])[0]["tokens"] == ["to", "boston"]


def test_a_precision_onnx_runtime_has_not_is_refused(tmp_path):
    from slotfill.errors import ConfigError

    ckpt, graph = _export(tmp_path, {"intent": True}, False)
    with pytest.raises(ConfigError, match="precision=bf16 needs backend=torch"):
        OnnxTagger.load(graph, precision="bf16")
    assert OnnxTagger.load(graph, threads="auto").predict(["to boston"])


@pytest.mark.slow  # two exports
def test_a_graph_named_directly_is_refused_when_out_of_date(tmp_path):
    """Named as model.onnx or model.int8.onnx, a graph is held to the model.pt it is named after, and an
    int8 copy to the model.onnx beside it; a graph shipped alone stays its own model."""
    from slotfill.models.onnx_export import quantize_onnx

    ckpt, graph = _export(tmp_path, {"intent": True}, False)
    int8 = quantize_onnx(graph)
    assert OnnxTagger.load(graph).predict(["to boston"]) and OnnxTagger.load(int8).predict(["to boston"])
    tiny_model(seed=1, intent=True).save(ckpt)  # retrained into the folder, not exported again
    for named in (graph, int8):
        with pytest.raises(CheckpointError, match=r"exported from another model than .*model.pt \(stale export\); re-"):
            OnnxTagger.load(named)
    ckpt.unlink()  # shipped without the model file: each graph is its own model
    assert OnnxTagger.load(graph).predict(["to boston"]) and OnnxTagger.load(int8).predict(["to boston"])
    export_onnx(tiny_model(seed=1, intent=True), graph)  # a new graph; the old int8 copy left beside it
    with pytest.raises(CheckpointError, match=r"model.int8.onnx: an int8 copy of another model than .*model.onnx"):
        OnnxTagger.load(int8)


@pytest.mark.slow  # six loads
def test_an_unreadable_graph_is_named_by_its_file(tmp_path):
    """The graph is read once and its bytes opened: the error named "<graph bytes>", not the file."""
    from slotfill.inference.loading import load_tagger

    ckpt, graph = _export(tmp_path, {"intent": True}, False)
    whole = graph.read_bytes()
    for damaged in (b"not a graph\n", whole[: len(whole) // 2]):
        graph.write_bytes(damaged)
        for load in (load_tagger, OnnxTagger.load, lambda p: SlotTagger.load(ckpt, backend="onnx")):
            with pytest.raises(CheckpointError) as e:
                load(graph)
            assert str(e.value).startswith(f"{graph}: not a readable ONNX model (")
            assert str(e.value).endswith(f"; re-export it: slotfill export ckpt={ckpt}")


def test_onnx_runtime_runs_one_thread_unless_asked_and_the_tagger_says_how_it_runs(tmp_path):
    """threads="auto" by default, as the commands run it: a session's setting, affecting nothing else."""
    from slotfill.errors import SlotfillError
    from slotfill.inference.loading import load_tagger

    _, graph = _export(tmp_path, {"intent": True}, False)

    def threads(tagger: OnnxTagger) -> int:
        return tagger.session.get_session_options().intra_op_num_threads

    tagger = OnnxTagger.load(graph)
    assert threads(tagger) == 1 and threads(load_tagger(graph)) == 1 and threads(load_tagger(graph, threads=2)) == 2
    assert threads(OnnxTagger.load(graph, threads=None)) == 0  # ONNX Runtime's own choice
    assert repr(tagger) == f"OnnxTagger({str(graph)!r}, precision='fp32', threads=1)"
    with pytest.raises(SlotfillError, match="sentence 1, token 1: '' is not a token"):
        tagger.predict_tokens([[""]])  # the pipeline's checks, on this engine too
