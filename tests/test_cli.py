"""cli.py and the entry scripts: what a user runs, in a subprocess (slow except the pure-function tests)."""

import csv
import json
import re

import pytest
import torch

from slotfill.cli import extract_texts, quote_paths
from tests.conftest import write_split
from tests.helpers import SAMPLE, one_line_error, run_script, sample_overrides

slow = pytest.mark.slow


def test_free_text_is_taken_out_of_the_override_grammar():
    texts, rest = extract_texts(["predict.py", "ckpt=m.pt", "text=i'd like, please", "hello there", "-m", "+a.b=1"])
    assert texts == ["i'd like, please", "hello there"]
    assert rest == ["predict.py", "ckpt=m.pt", "-m", "+a.b=1"]


def test_checkpoint_paths_with_equals_signs_are_quoted_for_hydra():
    ckpt = "ckpt=out/checkpoints/epoch=09-val_f1=89.63.ckpt"
    assert quote_paths(["x.py", ckpt, "split=test", "ckpt='a=b'"]) == [
        "x.py",
        "ckpt='out/checkpoints/epoch=09-val_f1=89.63.ckpt'",
        "split=test",
        "ckpt='a=b'",
    ]


# ------------------------------------------------------------------ train.py
def _train(args, out, timeout=240):
    return run_script("train.py", [*args, f"hydra.run.dir={out}"], timeout=timeout)


@slow
def test_train_smoke_run(tmp_path):
    # the progress bar is asked for, but output goes to a pipe: plain epoch lines, no \r redraws
    args = [a for a in sample_overrides(epochs=2) if "enable_progress_bar" not in a]
    proc = _train([*args, "trainer.enable_progress_bar=true"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test: slot F1" in proc.stdout
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "model.pt").exists()
    assert "\r" not in proc.stdout + proc.stderr
    for text in (proc.stdout + proc.stderr, (tmp_path / "train.log").read_text()):
        lines = [line for line in text.splitlines() if re.search(r"epoch \d\d  loss ", line)]
        assert len(lines) == 2 and all(k in lines[0] for k in ("val F1", "lr", "sent/s")), text[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "logs" / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert all(r["train/loss"] and r["val/f1"] and r["train/lr"] for r in rows)
    (ckpt,) = (tmp_path / "checkpoints").iterdir()
    assert re.fullmatch(r"epoch=0[01]-val_f1=\d+\.\d\d\.ckpt", ckpt.name)
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000


@slow
def test_train_fast_dev_run_on_the_default_data(tmp_path):
    proc = _train(["trainer.fast_dev_run=true", "trainer.enable_progress_bar=false"], tmp_path)
    if "no dataset folder here" in proc.stderr:
        pytest.skip("the ATIS benchmark copy is not present")
    assert proc.returncode == 0, proc.stderr[-3000:]


@slow
def test_train_missing_data_is_one_line_error(tmp_path):
    proc = _train(["data.path=/no/such/dir/atis"], tmp_path)
    one_line_error(proc, "/no/such/dir/atis")
    assert "SLOTFILL_DATA_DIR" in proc.stderr


@slow
def test_train_bad_data_is_one_line_error(tmp_path):
    bad = tmp_path / "bad"
    for split in ("train", "valid", "test"):
        write_split(bad, split, "a b\n", "O\n", None)
    one_line_error(_train([f"data.path={bad}"], tmp_path / "run"), "seq.out:1: 1 tags for 2 tokens")


@slow
@pytest.mark.parametrize(
    "override, message",
    [
        ("model.cell=transformer", "model.cell='transformer'"),
        ("model.dropout=1.5", "model.dropout=1.5"),
        ("model.intent_to_slot=true", "model.intent_to_slot=true needs the intent head"),
        ("train.lr_decay=sine", "train.lr_decay='sine'"),
        ("+model.nonsense=1", "model.nonsense"),
    ],
)
def test_train_bad_setting_is_one_line_error(tmp_path, override, message):
    one_line_error(_train([*sample_overrides(epochs=1), override], tmp_path), message)


@slow
def test_multirun_sweep_writes_one_folder_per_run(tmp_path):
    args = [a for a in sample_overrides(epochs=1) if not a.startswith("model.hidden_size")]
    proc = run_script("train.py", ["-m", *args, "model.hidden_size=8,16", f"hydra.sweep.dir={tmp_path}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert (tmp_path / job / "metrics.json").exists() and (tmp_path / job / "model.pt").exists()
    sizes = {torch.load(tmp_path / j / "model.pt", weights_only=True)["model"]["hidden_size"] for j in ("0", "1")}
    assert sizes == {8, 16}
    rows = list(csv.DictReader(open(tmp_path / "summary.csv")))
    assert [(r["run"], r["model.hidden_size"]) for r in rows] == [("0", "8"), ("1", "16")]
    assert all(float(r["valid F1"]) >= 0 for r in rows)


@slow
def test_optuna_sweeper_maximises_the_returned_validation_score(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    args = [a for a in sample_overrides(epochs=2) if not a.startswith("model.hidden_size")]
    sweep = ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.direction=maximize"]
    sweep += ["hydra.sweeper.sampler.seed=0", "model.hidden_size=choice(8,16)"]
    proc = run_script("train.py", ["-m", *args, *sweep, f"hydra.sweep.dir={tmp_path}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = (tmp_path / "optimization_results.yaml").read_text()
    best = max(json.loads((tmp_path / j / "metrics.json").read_text())["best_val_score"] for j in ("0", "1"))
    assert "best_value" in results and f"{best}"[:5] in results
    assert len(list(csv.DictReader(open(tmp_path / "summary.csv")))) == 2


@slow
def test_ddp_two_processes(tmp_path):
    # two processes take half the optimizer steps per epoch (the effective batch doubles): give
    # them as many steps as the single-process fixture run gets in 40 epochs
    proc = _train(sample_overrides(epochs=80, extra=["trainer=ddp"]), tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["scores"]["valid"]["f1"] > 95.0
    assert metrics["scores"]["test"]["f1"] > 90.0
    assert metrics["world_size"] == 2


# ---------------------------------------------------------------- predict.py
RESULT_KEYS = {"text", "tokens", "tags", "spans", "intent", "intent_confidence"}


@slow
def test_predict_text_as_typed_and_jsonl(trained_sample):
    ckpt = f"ckpt={trained_sample['model_file']}"
    proc = run_script("predict.py", [ckpt, "format=jsonl", "text=i'd like to leave boston, please", "arrive in taipei"])
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["text"] for r in lines] == ["i'd like to leave boston, please", "arrive in taipei"]
    assert set(lines[0]) == RESULT_KEYS
    assert lines[1]["spans"][0]["slot"] == "toloc.city_name"


@slow
def test_predict_human_output_file_and_stdin(trained_sample, tmp_path):
    ckpt = f"ckpt={trained_sample['model_file']}"
    f = tmp_path / "in.txt"
    f.write_text("i want to leave taipei and arrive in boston\n\nflights to denver\n")
    proc = run_script("predict.py", [ckpt, f"input={f}"])
    assert proc.returncode == 0, proc.stderr
    assert "fromloc.city_name: taipei" in proc.stdout and "toloc.city_name: boston" in proc.stdout
    assert "intent: atis_flight" in proc.stdout and "(empty sentence" in proc.stdout
    proc = run_script("predict.py", [ckpt, "input=-"], stdin="i want to leave taipei\n")
    assert proc.returncode == 0 and "fromloc.city_name: taipei" in proc.stdout
    out = tmp_path / "out.jsonl"
    proc = run_script("predict.py", [ckpt, "format=jsonl", f"output={out}", "flights to denver"])
    assert proc.returncode == 0 and proc.stdout == "" and json.loads(out.read_text())["tokens"][-1] == "denver"


@slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["ckpt=/nope/model.pt", "hello"], "checkpoint not found"),
        (["ckpt={model}"], "nothing to tag"),
        (["ckpt={model}", "input={latin1}"], "latin1.txt:2: not valid UTF-8"),
        (["ckpt={model}", "input=/nope.txt"], "/nope.txt: file not found"),
        (["ckpt={model}", "format=xml", "hi"], "format=xml"),
        (["ckpt={garbage}", "hi"], "not a readable checkpoint"),
        (["ckpt={model}", "batch_size=0", "hi"], "batch_size=0"),
        (["ckpt={model}", "threads=abc", "hi"], "threads='abc'"),
        (["ckpt={model}", "backend=onnx", "hi"], "export.py"),
        (["ckpt={model}", "output=/no/such/dir/out.txt", "hi"], "output=/no/such/dir/out.txt"),
    ],
)
def test_predict_errors_are_one_line(tiny_model_file, tmp_path, args, message):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    args = [a.format(model=tiny_model_file, latin1=latin1, garbage=garbage) for a in args]
    one_line_error(run_script("predict.py", args), message)


# --------------------------------------------------------------- evaluate.py
def _evaluate(args, out_dir):
    return run_script("evaluate.py", [*args, f"hydra.run.dir={out_dir}"], timeout=180)


@slow
@pytest.mark.parametrize("fixture", ["trained_sample", "trained_sample_crf"])
def test_evaluate_reproduces_training_scores(request, fixture, tmp_path):
    run = request.getfixturevalue(fixture)
    for split in ("valid", "test"):
        args = [f"ckpt={run['model_file']}", "data=sample", f"data.path={SAMPLE}", f"split={split}"]
        proc = _evaluate(args, tmp_path / split)
        assert proc.returncode == 0, proc.stderr[-2000:]
        metrics = json.loads((tmp_path / split / "metrics.json").read_text())
        assert metrics["kind"] == "evaluate" and metrics["weights_sha256"] == run["weights_sha256"]
        assert metrics["scores"][split] == pytest.approx(run["scores"][split], abs=1e-9)
        report = (tmp_path / split / "report.md").read_text()
        assert "Departure vs arrival" in report and "strict IOB2" in report
        assert "## Per-intent report" in report and "## Calibration" in report
        for name in ("per_slot_f1", "slot_confusion", "intent_confusion", "confidence_histogram", "reliability"):
            assert (tmp_path / split / f"{name}.png").stat().st_size > 1000 and (
                tmp_path / split / f"{name}.svg"
            ).exists()
        assert set(metrics["calibration"]) == {"span", "intent"} and metrics["per_intent"]["micro avg"]["support"] == 20


@slow
def test_evaluate_reads_a_training_checkpoint_named_with_equals_signs(trained_sample, tmp_path):
    ckpt = trained_sample["best_checkpoint"]
    assert "epoch=" in ckpt and "-val_f1=" in ckpt
    proc = _evaluate([f"ckpt={ckpt}", "data=sample", f"data.path={SAMPLE}", "plots=false"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (tmp_path / "reliability.png").exists()


@slow
def test_evaluate_bad_checkpoint_is_one_line(tmp_path):
    one_line_error(_evaluate(["ckpt=/nope.pt", "data=sample"], tmp_path), "checkpoint not found")


# ----------------------------------------------------------------- export.py
@slow
def test_export_writes_a_checked_graph(tiny_model_file):
    pytest.importorskip("onnxruntime")
    proc = run_script("export.py", [f"ckpt={tiny_model_file}"], timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "same tags and intents" in proc.stdout
    for name in ("model.onnx", "model.onnx.json", "model.int8.onnx", "model.int8.onnx.json"):
        assert (tiny_model_file.parent / name).exists()


# ------------------------------------------------- the default model on ATIS
README_EXAMPLES = {
    "i want to leave taipei and arrive in boston": [("fromloc.city_name", "taipei"), ("toloc.city_name", "boston")],
    "i want to leave taipei": [("fromloc.city_name", "taipei")],
    "i want to arrive in taipei": [("toloc.city_name", "taipei")],
    "i'd like a flight at 5 o'clock, please": [("depart_time.time", "5 o'clock")],
    "flights from denver to dallas": [("fromloc.city_name", "denver"), ("toloc.city_name", "dallas")],
    "show me flights from kuala lumpur to hong kong": [
        ("fromloc.city_name", "kuala lumpur"),
        ("toloc.city_name", "hong kong"),
    ],
}


@slow
def test_default_model_tags_the_readme_examples(tmp_path):
    """``python train.py`` as users run it (12 of its 30 epochs, to keep the suite short), then README's examples."""
    proc = _train(["trainer.max_epochs=12", "trainer.enable_progress_bar=false"], tmp_path, timeout=600)
    if "no dataset folder here" in proc.stderr:
        pytest.skip("the ATIS benchmark copy is not present")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_script("predict.py", [f"ckpt={tmp_path / 'model.pt'}", "format=jsonl", *README_EXAMPLES])
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = {r["text"]: [(s["slot"], s["text"]) for s in r["spans"]] for r in map(json.loads, proc.stdout.splitlines())}
    assert got == README_EXAMPLES
