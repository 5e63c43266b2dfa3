import subprocess
import sys

import pytest

from slotfill import SlotTagger
from slotfill.data import read_split
from tests.helpers import ROOT

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("fixture", ["trained_sample", "trained_sample_crf"])
def test_onnx_parity_on_test_set(request, fixture, tmp_path):
    run = request.getfixturevalue(fixture)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "export.py"), f"ckpt={run['model']}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "same tags" in proc.stdout
    eager = SlotTagger.load(run["model"])
    onnx = SlotTagger.load(run["model"], backend="onnx")
    sentences = (
        read_split(ROOT / "data" / "sample" / "test")["tokens"]
        + read_split(ROOT / "data" / "sample" / "train")["tokens"]
    )
    a = eager.predict_tokens(sentences, batch_size=16)
    b = onnx.predict_tokens(sentences, batch_size=16)
    assert [r["tags"] for r in a] == [r["tags"] for r in b]
    assert [r["intent"] for r in a] == [r["intent"] for r in b]
    raw = ["i'd like to leave taipei, please", "", "a " * 700]
    assert [r["tags"] for r in eager.predict(raw)] == [r["tags"] for r in onnx.predict(raw)]
    for x, y in zip(a, b):
        for s, t in zip(x["spans"], y["spans"]):
            assert s["confidence"] == pytest.approx(t["confidence"], abs=1e-3)


def test_onnx_backend_without_export_is_clear_error(trained_sample, tmp_path):
    import shutil

    from slotfill.errors import CheckpointError

    copy = tmp_path / "model.pt"
    shutil.copy(trained_sample["model"], copy)
    with pytest.raises(CheckpointError, match="export.py"):
        SlotTagger.load(copy, backend="onnx")


def test_int8_graph_agrees_with_float32(trained_sample):
    from slotfill.errors import CheckpointError

    model = trained_sample["model"]
    subprocess.run(
        [sys.executable, str(ROOT / "export.py"), f"ckpt={model}", "check=false"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180,
    )
    sentences = read_split(ROOT / "data" / "sample" / "test")["tokens"]
    fp32 = SlotTagger.load(model, backend="onnx").predict_tokens(sentences)
    int8 = SlotTagger.load(model, backend="onnx", precision="int8").predict_tokens(sentences)
    pairs = [(a, b) for x, y in zip(fp32, int8) for a, b in zip(x["tags"], y["tags"])]
    assert sum(a == b for a, b in pairs) / len(pairs) >= 0.97
    assert sum(x["intent"] == y["intent"] for x, y in zip(fp32, int8)) >= 0.9 * len(sentences)
    with pytest.raises(CheckpointError, match="needs backend=onnx"):
        SlotTagger.load(model, precision="int8")
