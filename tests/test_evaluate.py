import json
import os
import subprocess
import sys

import pytest

from tests.conftest import write_split
from tests.helpers import ROOT


def _evaluate(args, out_dir):
    return subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), *args, f"hydra.run.dir={out_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.mark.parametrize("fixture", ["trained_sample", "trained_sample_crf"])
def test_evaluate_reproduces_training_f1(request, fixture, tmp_path):
    run = request.getfixturevalue(fixture)
    for split in ("valid", "test"):
        proc = _evaluate(
            [f"ckpt={run['model']}", "data=sample", f"data.path={ROOT / 'data' / 'sample'}", f"split={split}"],
            tmp_path / split,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        metrics = json.loads((tmp_path / split / "metrics.json").read_text())
        assert metrics["f1"] == pytest.approx(run[split]["f1"], abs=1e-9)
        assert metrics["sentence_accuracy"] == pytest.approx(run[split]["sentence_accuracy"], abs=1e-9)
        if "intent_accuracy" in run[split]:
            assert metrics["intent_accuracy"] == pytest.approx(run[split]["intent_accuracy"], abs=1e-9)
        report = (tmp_path / split / "report.md").read_text()
        assert "Departure vs arrival" in report and "strict IOB2" in report


def test_unseen_gold_labels_count_as_errors(trained_sample, tmp_path):
    d = write_split(
        tmp_path / "own",
        "test",
        "i want to leave taipei\nfly to the moon tonight\n",
        "O O O O B-fromloc.city_name\nO O O B-celestial.body B-depart_time.period_of_day\n",
        "atis_flight\natis_spaceflight\n",
    )
    proc = _evaluate([f"ckpt={trained_sample['model']}", f"split_dir={d}"], tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["recall"] < 100.0  # the unseen slots are gold chunks the model cannot find
    assert metrics["per_slot"]["celestial.body"]["support"] == 1
    assert metrics["intent_accuracy"] <= 50.0
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert any(e["gold_intent"] == "atis_spaceflight" for e in errors)


def test_confusions_count_departure_arrival_swaps():
    from slotfill.evaluation import evaluate_predictions

    gold = [["O", "B-fromloc.city_name", "O", "B-toloc.city_name"]]
    pred = [["O", "B-toloc.city_name", "O", "B-toloc.city_name"]]
    res = evaluate_predictions([["from", "boston", "to", "denver"]], gold, pred, None, None)
    assert res["direction"] == {"fromloc_as_toloc": 1, "toloc_as_fromloc": 0}
    assert res["confusions"]["spans"][("fromloc.city_name", "toloc.city_name")] == 1
    assert len(res["errors"]) == 1


def test_evaluate_bad_checkpoint_is_one_line(tmp_path):
    proc = _evaluate(["ckpt=/nope.pt", "data=sample"], tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "checkpoint not found" in proc.stderr
