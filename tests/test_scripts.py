"""The command line as a user runs it, in a subprocess (slow except the argument tests); the one-line
errors of every command, in this process, are in ``tests/test_front_door.py``."""

import csv
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from slotfill.cli.argv import extract_texts, last_value, launcher_argv, quote_paths, resume_argv
from slotfill.cli.exits import one_line
from slotfill.errors import SlotfillError
from tests.conftest import SHARED
from tests.helpers import (
    ROOT,
    SAMPLE,
    compose_config,
    one_line_error,
    run_script,
    run_shell,
    sample_overrides,
    train_on_sample,
)

slow = pytest.mark.slow
# the default data set is ATIS, read from ../shared/data (never copied into the repository)
needs_atis = pytest.mark.skipif(
    not (SHARED / "atis" / "train").is_dir(), reason="the ATIS benchmark copy is not present"
)


def test_free_text_is_taken_out_of_the_override_grammar():
    texts, rest = extract_texts(["ckpt=m.pt", "text=i'd like, please", "hello there", "-m", "+a.b=1", "--cfg", "job"])
    assert texts == ["i'd like, please", "hello there"]
    assert rest == ["ckpt=m.pt", "-m", "+a.b=1", "--cfg", "job"]


def test_checkpoint_paths_with_equals_signs_are_quoted_for_hydra():
    ckpt = "ckpt=out/checkpoints/epoch=09-val_f1=89.63.ckpt"
    assert quote_paths([ckpt, "split=test", "ckpt='a=b'"]) == [
        "ckpt='out/checkpoints/epoch=09-val_f1=89.63.ckpt'",
        "split=test",
        "ckpt='a=b'",
    ]


def test_paths_are_read_as_written_and_hydras_own_forms_pass_through():
    """Compose-checked: each value quote_paths writes reads back in Hydra's grammar as the path typed."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parse = OverridesParser.create().parse_override
    for typed, path in (
        ("ckpt=/tmp/it's a,b [1] (x)/m.pt", "/tmp/it's a,b [1] (x)/m.pt"),
        ("ckpt=/tmp/my\\ dir/m.pt", "/tmp/my dir/m.pt"),  # escaped for Hydra by hand: as Hydra reads it
        ("ckpt=/tmp/a\\,b.pt", "/tmp/a,b.pt"),
        ("model.lexicons.city=/tmp/a b.txt", "/tmp/a b.txt"),
        ("hydra.run.dir=/tmp/my run,1", "/tmp/my run,1"),
    ):
        (quoted,) = quote_paths([typed])
        assert parse(quoted).value() == path, quoted
    swept = quote_paths(["-m", "ckpt=/a/m.pt,/b b/m.pt", "data.path=glob(/x/*)"])
    assert [v.text for v in parse(swept[1]).sweep_iterator()] == ["/a/m.pt", "/b b/m.pt"]  # a sweep still
    assert swept[2] == "data.path=glob(/x/*)"  # Hydra's sweep function, as given
    assert extract_texts(["~model.lexicons", "+model.lexicons={city: a.txt}"])[0] == []  # a delete is no text
    assert last_value(quote_paths(["resume=/tmp/bob's run"]), "resume") == "/tmp/bob's run"
    assert resume_argv(quote_paths(["resume=/tmp/bob's run"]))[1] == "hydra.run.dir='/tmp/bob\\'s run'"


def _train(args, out, timeout=240):
    return run_script("train.py", [*args, f"hydra.run.dir={out}"], timeout=timeout)


@slow
def test_train_smoke_run(tmp_path):
    # the progress bar is asked for, but output goes to a pipe: plain epoch lines, no \r redraws
    args = [a for a in sample_overrides(epochs=2) if "enable_progress_bar" not in a]
    proc = _train([*args, "trainer.enable_progress_bar=true", "plots=true"], tmp_path)
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
    (ckpt,) = [p for p in (tmp_path / "checkpoints").iterdir() if p.name != "last.ckpt"]
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert re.fullmatch(r"epoch=0[01]-val_f1=\d+\.\d\d\.ckpt", ckpt.name)
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000


@slow
def test_train_in_a_terminal_draws_the_bar_and_keeps_epoch_lines_off_it(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    args = [a for a in sample_overrides(epochs=2) if "enable_progress_bar" not in a]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args, f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: every process writing to it ended
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(timeout=240) == 0, output[-3000:]
    text = output.decode("utf-8", "replace")
    assert "Epoch 1: 100%" in text  # the bar is drawn
    for match in re.finditer(r"epoch 0\d  loss ", text):
        line_start = max(text.rfind("\r", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
        assert text[line_start] == "[", text[line_start : match.end()]  # the bar was cleared before the line


@slow
@needs_atis
def test_train_fast_dev_run_on_the_default_data(tmp_path):
    from slotfill.cli.jobs import train

    overrides = ["trainer.fast_dev_run=true", "trainer.enable_progress_bar=false", "threads=1", "plots=false"]
    metrics = train(compose_config(overrides, tmp_path))  # in this process: the default config and data
    assert metrics["dataset"] == "atis" and (tmp_path / "model.pt").is_file()


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
    # each of the two processes takes half the sample's batch: the same effective batch and the same
    # optimizer steps per epoch as the single-process fixture run, whose 40 epochs this run gets too
    proc = _train(sample_overrides(epochs=40, extra=["trainer=ddp", "data.batch_size=4"]), tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["scores"]["valid"]["f1"] > 95.0
    assert metrics["scores"]["test"]["f1"] > 90.0
    assert metrics["world_size"] == 2


def test_torchrun_ranks_share_one_run_folder_named_after_the_run():
    assert launcher_argv(["seed=1"], {}) == ["seed=1"]  # not under torchrun: Hydra's own folder
    env = {"TORCHELASTIC_RUN_ID": "job/42", "RANK": "0"}
    assert launcher_argv(["seed=1"], env) == ["seed=1", "hydra.run.dir=outputs/torchrun/job_42"]
    rank1 = launcher_argv(["seed=1"], {**env, "RANK": "1"})
    assert rank1 == ["seed=1", "hydra.run.dir=outputs/torchrun/job_42", "hydra.output_subdir=.hydra_rank_1"]
    assert launcher_argv(["hydra.run.dir=/shared/run"], env) == ["hydra.run.dir=/shared/run"]  # several nodes


def test_srun_tasks_share_one_run_folder_and_only_the_first_holds_it(monkeypatch):
    """srun sets SLURM_PROCID, not RANK, before start-up: every task took itself for rank 0 and the
    second was refused as "another slotfill process" in the run folder."""
    from slotfill.training.run_folder import is_rank_zero

    env = {"SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "3", "SLURM_JOB_ID": "77", "SLURM_STEP_ID": "0"}
    assert launcher_argv(["seed=1"], env) == [
        "seed=1",
        "hydra.run.dir=outputs/slurm/77.0",
        "hydra.output_subdir=.hydra_rank_3",
    ]
    one_task = {**env, "SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0"}
    assert launcher_argv(["seed=1"], one_task) == ["seed=1"]
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    assert is_rank_zero()
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert not is_rank_zero()


@slow
def test_torchrun_two_processes_make_one_run_scored_on_the_whole_corpus(tmp_path):
    """What several nodes run, on one machine: torchrun starts both ranks at once; one run folder,
    one model.pt, and scores over every sentence (predictions gathered), as one process scores them."""
    torchrun = Path(sys.executable).with_name("torchrun")
    args = sample_overrides(epochs=6, extra=["trainer=ddp", "plots=false"])  # scores are compared, not judged
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", str(ROOT / "train.py"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "torchrun").iterdir()  # one folder for both ranks
    assert len(list(run.glob("**/model.pt"))) == 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    from slotfill.cli.jobs import evaluate

    for split in ("valid", "test"):
        args = [f"ckpt={run / 'model.pt'}", "data=sample", f"data.path={SAMPLE}", f"split={split}", "plots=false"]
        evaluate(compose_config(args, tmp_path / split, config_name="evaluate"))
        alone = json.loads((tmp_path / split / "metrics.json").read_text())["scores"][split]
        assert alone == pytest.approx(metrics["scores"][split], abs=1e-9)


RESULT_KEYS = {"text", "tokens", "tags", "spans", "intent", "intent_confidence", "intent_ranking"}


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
    proc = run_script("predict.py", [ckpt, "input=-"], stdin=f.read_text())  # a file's lines on stdin
    assert proc.returncode == 0, proc.stderr
    assert "fromloc.city_name: taipei" in proc.stdout and "toloc.city_name: boston" in proc.stdout
    assert "intent: atis_flight" in proc.stdout and "(empty sentence" in proc.stdout
    from slotfill.cli.jobs import predict  # the file and output= paths, in this process

    out = tmp_path / "out.txt"
    predict(compose_config([ckpt, f"input={f}", f"output={out}"], tmp_path, config_name="predict"))
    assert out.read_text() == proc.stdout
    out = tmp_path / "out.jsonl"
    predict(compose_config([ckpt, "format=jsonl", f"output={out}"], tmp_path, config_name="predict"), ["to denver"])
    assert json.loads(out.read_text())["tokens"][-1] == "denver"


def _evaluate(args, out_dir):
    return run_script("evaluate.py", [*args, f"hydra.run.dir={out_dir}"], timeout=180)


@slow
@pytest.mark.parametrize("fixture", ["trained_sample", "trained_sample_crf"])
def test_evaluate_reproduces_training_scores(request, fixture, tmp_path):
    """In this process (the subprocess path is ``test_evaluate_reads_a_training_checkpoint_...``); the
    figures are drawn for one split only, the one whose figures are checked."""
    from slotfill.cli.jobs import evaluate

    run = request.getfixturevalue(fixture)
    for split in ("valid", "test"):
        args = [f"ckpt={run['model_file']}", "data=sample", f"data.path={SAMPLE}", f"split={split}"]
        evaluate(compose_config([*args, f"plots={split == 'valid'}"], tmp_path / split, config_name="evaluate"))
        metrics = json.loads((tmp_path / split / "metrics.json").read_text())
        assert metrics["kind"] == "evaluate" and metrics["weights_sha256"] == run["weights_sha256"]
        assert metrics["seed"] == run["seed"]  # the model's, for slotfill compare
        assert metrics["scores"][split] == pytest.approx(run["scores"][split], abs=1e-9)
        report = (tmp_path / split / "report.md").read_text()
        assert "Departure vs arrival" in report and "strict IOB2" in report
        assert "## Per-intent report" in report and "## Calibration" in report
        assert set(metrics["calibration"]) == {"span", "intent"} and metrics["per_intent"]["micro avg"]["support"] == 20
    for name in ("per_slot_f1", "slot_confusion", "intent_confusion", "confidence_histogram", "reliability"):
        assert (tmp_path / "valid" / f"{name}.png").stat().st_size > 1000 and (
            tmp_path / "valid" / f"{name}.svg"
        ).exists()
    assert not (tmp_path / "test" / "reliability.png").exists()


@slow
def test_evaluate_reads_a_training_checkpoint_named_with_equals_signs(trained_sample, tmp_path):
    ckpt = trained_sample["best_checkpoint"]
    assert "epoch=" in ckpt and "-val_f1=" in ckpt
    proc = _evaluate([f"ckpt={ckpt}", "data=sample", f"data.path={SAMPLE}", "plots=false"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (tmp_path / "reliability.png").exists()


@slow
def test_export_writes_a_checked_graph(tiny_model_file):
    pytest.importorskip("onnxruntime")
    proc = run_script("export.py", [f"ckpt={tiny_model_file}"], timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "its sidecar (ONNX Runtime, numpy decoding) give PyTorch's tags, intents and confidences" in proc.stdout
    assert re.search(r"int8\.onnx gives the float32 graph's tags and intents on \d+ of 65 sentences", proc.stdout)
    for name in ("model.onnx", "model.onnx.json", "model.int8.onnx", "model.int8.onnx.json"):
        assert (tiny_model_file.parent / name).exists()


README_EXAMPLES = {  # README's examples (and docs'), with the slots the default model must find
    "i want to leave taipei and arrive in boston": [("fromloc.city_name", "taipei"), ("toloc.city_name", "boston")],
    "i want to leave taipei": [("fromloc.city_name", "taipei")],
    "i want to arrive in taipei": [("toloc.city_name", "taipei")],
    "i'd like a flight at 5 o'clock, please": [("depart_time.time", "5 o'clock")],
    "flights from denver to dallas": [("fromloc.city_name", "denver"), ("toloc.city_name", "dallas")],
    "flights from boston to denver, please": [("fromloc.city_name", "boston"), ("toloc.city_name", "denver")],
    "flights to boston": [("toloc.city_name", "boston")],
    "show me flights from kuala lumpur to hong kong": [
        ("fromloc.city_name", "kuala lumpur"),
        ("toloc.city_name", "hong kong"),
    ],
}

# the sentences about a city ATIS never mentions, and multi-word names: their city slots
UNSEEN_CITIES = {
    "i want to leave taipei tomorrow": [("fromloc.city_name", "taipei")],
    "i want to arrive taipei tomorrow": [("toloc.city_name", "taipei")],
    "which flights depart taipei after 6 pm": [("fromloc.city_name", "taipei")],
    "i need to go to taipei from toronto": [("toloc.city_name", "taipei"), ("fromloc.city_name", "toronto")],
    "cheapest fare from cape town to buenos aires": [
        ("fromloc.city_name", "cape town"),
        ("toloc.city_name", "buenos aires"),
    ],
}


@slow
@pytest.mark.long
@needs_atis
def test_default_model_tags_the_readme_examples(tmp_path):
    """``python train.py`` as users run it (all 30 epochs, seed 42, joint), then README's examples.

    ``threads=1`` pinned: what ``threads=auto`` gives a process here, whatever the machine.
    """
    proc = _train(["trainer.enable_progress_bar=false", "threads=1"], tmp_path, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_script("predict.py", [f"ckpt={tmp_path / 'model.pt'}", "format=jsonl", *README_EXAMPLES, *UNSEEN_CITIES])
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = {r["text"]: [(s["slot"], s["text"]) for s in r["spans"]] for r in map(json.loads, proc.stdout.splitlines())}
    assert {text: got[text] for text in README_EXAMPLES} == README_EXAMPLES
    intents = {r["text"]: r["intent"] for r in map(json.loads, proc.stdout.splitlines())}
    assert {intents[text] for text in README_EXAMPLES} == {"atis_flight"}  # joint by default: every one a flight
    cities = {text: [s for s in got[text] if s[0].endswith("city_name")] for text in UNSEEN_CITIES}
    assert cities == UNSEEN_CITIES


def test_resume_runs_in_the_run_folder_with_its_own_config(tmp_path):
    argv = resume_argv(["resume=outputs/a/b"])
    assert argv == ["resume=outputs/a/b", "hydra.run.dir='outputs/a/b'", "hydra.output_subdir=null"]
    assert resume_argv(["seed=3"]) == ["seed=3"]
    with pytest.raises(SlotfillError, match="own saved config: drop seed=3$"):  # nothing to start from
        resume_argv([f"resume={tmp_path}", "seed=3"])
    with pytest.raises(SlotfillError, match="drop threads=1; its threads too, for the same arithmetic"):
        resume_argv([f"resume={tmp_path}", "threads=1"])
    (tmp_path / "checkpoints").mkdir()  # a run that crashed: its last epoch, no model.pt
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    with pytest.raises(
        SlotfillError, match=f"drop seed=3 \\(or start .* init_from={tmp_path}/checkpoints/last.ckpt\\)"
    ):
        resume_argv([f"resume={tmp_path}", "seed=3"])
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(SlotfillError, match=f"init_from={tmp_path}/model.pt\\)"):
        resume_argv([f"resume={tmp_path}", "seed=3"])


def test_hydra_messages_become_one_line():
    error = Exception(
        "In 'train': Could not find 'model/x'\n\nAvailable options in 'model':\n\tbilstm\n\tgru\n"
        "Config search path:\n\tprovider=hydra"
    )
    assert one_line(error) == "In 'train': Could not find 'model/x' Available options in 'model': bilstm gru"


def _popen_train(args, out):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args, f"hydra.run.dir={out}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def _wait_for_epoch(proc, out, epoch, timeout=240):
    """Wait until the run has saved ``last.ckpt`` of ``epoch`` (or later)."""
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        if last.exists():
            try:
                if torch.load(last, weights_only=True)["epoch"] >= epoch:
                    return
            except Exception:  # being replaced right now
                pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail("no checkpoint in time")


def _status(out):
    return json.loads((out / "run.json").read_text())["status"]


@slow
def test_train_nan_loss_stops_at_once_with_one_line(tmp_path):
    """In this process (the one line both ways in is a row of ``tests/test_front_door.py``)."""
    from slotfill.cli.jobs import train
    from slotfill.errors import TrainingDiverged

    args = sample_overrides(epochs=3, extra=["optimizer.lr=1e30", "trainer.gradient_clip_val=null"])
    with pytest.raises(TrainingDiverged, match="training diverged: the loss is nan at step") as e:
        train(compose_config(args, tmp_path))
    assert "optimizer.lr" in str(e.value) and "gradient_clip_val" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "metrics.json").exists()
    assert _status(tmp_path) == "failed"


@slow
def test_train_kill_9_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    # dropout and <unk> replacement draw random numbers: the resumed run must draw the same ones;
    # checkpoint averaging must pick up the same window of earlier epochs' weights; a learning-rate
    # schedule must not make Lightning read the batches' order before the run's epoch is restored
    extra = ["model.dropout=0.3", "train.unk_replace=0.5", "train.average_last=3", "train.lr_decay=cosine"]
    args = sample_overrides(epochs=5, extra=extra)
    train_on_sample(tmp_path / "whole", epochs=5, extra=extra)  # in this process: the same weights, bit for bit
    proc = _popen_train(args, tmp_path / "killed")
    _wait_for_epoch(proc, tmp_path / "killed", 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _status(tmp_path / "killed") == "running" and not (tmp_path / "killed" / "model.pt").exists()
    resumed = run_script("train.py", [f"resume={tmp_path / 'killed'}"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    b = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert b["resumed_from"].endswith("last.ckpt") and _status(tmp_path / "killed") == "completed"
    assert b["best_val_score"] == a["best_val_score"] and b["scores"] == a["scores"]
    assert b["weights_sha256"] == a["weights_sha256"]  # the same weights, bit for bit
    assert len(b["train_sent_per_s_epochs"]) == 5  # the epochs before the kill are remembered
    assert not (tmp_path / "killed" / ".hydra" / "overrides.yaml").read_text().count("resume")


@slow
def test_a_run_started_from_a_model_resumes_with_that_models_architecture(trained_sample, tmp_path):
    source = trained_sample["model_file"]
    args = sample_overrides(epochs=2, extra=[f"init_from={source}", "model.hidden_size=24"])  # the size: ignored
    proc = _popen_train(args, tmp_path / "run")
    _wait_for_epoch(proc, tmp_path / "run", 0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = run_script("train.py", [f"resume={tmp_path / 'run'}"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["init_from"] == str(source) and _status(tmp_path / "run") == "completed"
    model = torch.load(tmp_path / "run" / "model.pt", map_location="cpu", weights_only=True)
    assert model["init_from"] == str(source)  # where the run started, not its own checkpoint


@slow
def test_the_last_checkpoint_is_the_last_epoch_whether_or_not_it_was_the_best(tmp_path):
    import torch

    # mode=min: the first epoch's (lowest) score stays the best, the later epochs are not
    train_on_sample(
        tmp_path, epochs=3, extra=["callbacks.model_checkpoint.mode=min", "callbacks.early_stopping.mode=min"]
    )
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 2  # what resume= continues from: no epoch done twice
    assert [p.name for p in (tmp_path / "checkpoints").glob("epoch=*")] == [
        p.name for p in (tmp_path / "checkpoints").glob("epoch=00-*")
    ]


@slow
def test_train_ctrl_c_exits_130_and_marks_the_run_interrupted(tmp_path):
    proc = _popen_train(sample_overrides(epochs=40), tmp_path)
    _wait_for_epoch(proc, tmp_path, 0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == f"interrupted: continue the run with slotfill train resume={tmp_path}"
    assert "Traceback" not in err
    assert _status(tmp_path) == "interrupted" and not (tmp_path / "model.pt").exists()


def _lines(n):
    return "".join(f"i want to fly from boston to taipei on monday number {i}\n" for i in range(n))


@slow
@pytest.mark.parametrize("to_file", [False, True])
def test_predict_full_disk_is_one_line_and_never_a_short_output(tiny_model_file, tmp_path, to_file):
    (tmp_path / "in.txt").write_text(_lines(3000))
    out = tmp_path / "out.jsonl"
    target = f"output={out}" if to_file else f"> {out}"
    # ulimit -f 100: files of at most 100 KiB, as a full disk would cut them (no root needed)
    command = (
        f"ulimit -f 100; exec {sys.executable} predict.py ckpt={tiny_model_file} threads=1 input={tmp_path / 'in.txt'}"
    )
    proc = run_shell(f"{command} format=jsonl {target}")
    one_line_error(proc, "write failed")
    assert "the output is incomplete" in proc.stderr
    if to_file:  # a file output is complete or absent
        assert not out.exists() and not list(tmp_path.glob(".out.jsonl*"))


def _predict_from_stdin(args: list[str]) -> subprocess.Popen:
    """``predict.py ARGS input=-`` running, its standard input, output and error as text pipes."""
    return subprocess.Popen(
        [sys.executable, "predict.py", *args, "input=-"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@slow
def test_predict_streams_first_results_before_the_input_ends(tiny_model_file):
    proc = _predict_from_stdin([f"ckpt={tiny_model_file}", "format=jsonl", "threads=1"])
    lines = _lines(2500).splitlines()
    more = threading.Event()

    def feed() -> None:
        # from a thread: a pipe holds 64 KB, so writing while predict waits for its output to be
        # read would leave both sides waiting on each other
        proc.stdin.write("\n".join(lines[:2000]) + "\n")  # one chunk; the input stays open
        proc.stdin.flush()
        more.wait(180)
        proc.stdin.write("\n".join(lines[2000:]) + "\n")
        proc.stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    assert ready, "no output while the input is still open: predict does not stream"
    first = json.loads(proc.stdout.readline())
    more.set()
    rest = [json.loads(line) for line in proc.stdout.read().splitlines()]
    feeder.join(10)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert [r["text"] for r in [first, *rest]] == lines  # every line, in input order


@slow
def test_predict_answers_each_line_as_it_is_typed(tiny_model_file):
    proc = _predict_from_stdin([f"ckpt={tiny_model_file}", "format=jsonl", "threads=1"])
    answers = []
    for line in ("to boston", "from denver"):  # a person typing: one line, then a wait
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, f"no answer to {line!r} while the input stays open"
        answers.append(json.loads(proc.stdout.readline())["text"])
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert answers == ["to boston", "from denver"]


def _peak_rss_mb(args):
    """Peak resident memory of one predict.py run, measured by a parent that runs nothing else."""
    probe = (
        "import resource, subprocess, sys; "
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "predict.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    rc, kb = out.stdout.split()
    assert rc == "0", out.stderr[-2000:]
    return int(kb) / 1024


@slow
def test_predict_memory_stays_flat_on_20k_lines(tiny_model_file, tmp_path):
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text(_lines(2000))
    big.write_text(_lines(20_000))
    # one thread: on a busy machine two OpenMP threads wait for each other far longer than they work
    args = [f"ckpt={tiny_model_file}", "format=jsonl", "threads=1"]
    rss_small = _peak_rss_mb([*args, f"input={small}"])
    rss_big = _peak_rss_mb([*args, f"input={big}"])
    # held whole, 100k results took 1.28 GB before streaming (20k: ~250 MB); streamed, 10x the input costs little more
    assert rss_big < rss_small + 60, (rss_small, rss_big)


@slow
def test_predict_closed_stdin_is_one_line(tiny_model_file):
    proc = run_shell(f"exec {sys.executable} predict.py ckpt={tiny_model_file} input=- <&-", timeout=120)
    one_line_error(proc, "standard input is closed")


@slow
def test_an_unwritable_run_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    one_line_error(_train(["data=sample"], blocker / "run"), f"{blocker} is a file; give a folder for the run")


@slow
def test_predict_ctrl_c_exits_130(tiny_model_file):
    proc = _predict_from_stdin([f"ckpt={tiny_model_file}"])
    proc.stdin.write("flights to boston\n")
    proc.stdin.flush()
    time.sleep(3)  # started and waiting for more input
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "interrupted", err[-2000:]


@slow
def test_a_run_killed_after_it_stopped_early_resumes_into_its_end_not_more_epochs(tmp_path):
    """Lightning restores early stopping's counters but not its decision: a run killed in its final
    test, after stopping early, trained on when resumed and ended with another model."""
    import shutil

    args = ["callbacks.early_stopping.patience=1"]
    train_on_sample(tmp_path / "whole", epochs=8, extra=args)
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert a["epochs"] < 8  # it stopped early
    killed = tmp_path / "killed"  # as a kill in the final test leaves it: checkpoints, no model, status running
    shutil.copytree(tmp_path / "whole", killed)
    for name in ("model.pt", "metrics.json"):
        (killed / name).unlink()
    record = json.loads((killed / "run.json").read_text())
    (killed / "run.json").write_text(json.dumps({**record, "status": "running"}))
    resumed = run_script("train.py", [f"resume={killed}"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    b = json.loads((killed / "metrics.json").read_text())
    assert b["epochs"] == a["epochs"] and b["weights_sha256"] == a["weights_sha256"]
