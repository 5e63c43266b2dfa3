import json
import os
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT, compose_config, sample_overrides, train_on_sample


def test_configs_compose():
    cfg = compose_config([], output_dir=ROOT / "outputs" / "unused")
    assert cfg.model.cell == "lstm" and cfg.model.num_layers >= 2 and cfg.model.bidirectional
    assert cfg.model.forget_bias == 1.0
    assert cfg.data.name == "atis" and cfg.data.path.endswith("atis")
    assert cfg.trainer.gradient_clip_val > 0
    assert cfg.callbacks.model_checkpoint.monitor == "val/f1"
    assert cfg.callbacks.early_stopping.monitor == "val/f1"
    snips = compose_config(["data=snips", "model=gru", "trainer=ddp", "model.hidden_size=64"], ROOT / "x")
    assert snips.data.name == "snips" and snips.data.path.endswith("snips")
    assert snips.model.cell == "gru" and snips.model.hidden_size == 64
    assert snips.trainer.strategy == "ddp" and snips.trainer.devices == 2


def test_data_dir_env_var(monkeypatch):
    monkeypatch.setenv("SLOTFILL_DATA_DIR", "/somewhere/else")
    cfg = compose_config([], output_dir=ROOT / "x")
    assert cfg.data.path == "/somewhere/else/atis"


def test_tiny_run_overfits_sample(tmp_path):
    import shutil

    # every split is the sample's train split: selecting on "valid" then selects on training data
    for split in ("train", "valid", "test"):
        shutil.copytree(ROOT / "data" / "sample" / "train", tmp_path / "data" / split)
    results = train_on_sample(tmp_path / "run", epochs=40, extra=[f"data.path={tmp_path / 'data'}"])
    assert results["test"]["f1"] == pytest.approx(100.0)
    assert results["test"]["sentence_accuracy"] == pytest.approx(100.0)


def test_sample_run_generalises_to_held_out_sentences(trained_sample):
    # valid/test hold unseen sentences built from the same templates
    assert trained_sample["valid"]["f1"] > 95.0
    assert trained_sample["test"]["f1"] > 90.0


def test_run_writes_reports_and_self_contained_model(trained_sample):
    from pathlib import Path

    out = Path(trained_sample["model"]).parent
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["f1"] == trained_sample["test"]["f1"]
    assert {"precision", "recall", "f1", "strict_f1", "sentence_accuracy"} <= set(metrics["test"])
    assert "fromloc.city_name" in (out / "test_report.txt").read_text()
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["vocabs"]["tags"]["itos"][0] == "O"
    assert "state_dict" in state and state["net"]["cell"] == "lstm"
    ckpt = torch.load(metrics["best_checkpoint"], weights_only=True)
    assert ckpt["slotfill"]["vocabs"] == state["vocabs"]


def test_same_seed_same_result(tmp_path):
    a = train_on_sample(tmp_path / "a", epochs=3, extra=["trainer.deterministic=false"])
    b = train_on_sample(tmp_path / "b", epochs=3, extra=["trainer.deterministic=false"])
    assert a["valid"] == b["valid"]
    sa = torch.load(a["model"], weights_only=True)["state_dict"]
    sb = torch.load(b["model"], weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def _run(args, tmp_path, timeout=240):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args, f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_smoke_run(tmp_path):
    proc = _run(sample_overrides(epochs=2), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test  slot F1" in proc.stdout
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "model.pt").exists()
    assert (tmp_path / "logs" / "metrics.csv").exists()


def test_cli_missing_data_is_one_line_error(tmp_path):
    proc = _run(["data.path=/no/such/dir/atis"], tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "/no/such/dir/atis" in proc.stderr and "SLOTFILL_DATA_DIR" in proc.stderr


def test_cli_bad_data_is_one_line_error(tmp_path):
    bad = tmp_path / "bad"
    for split in ("train", "valid", "test"):
        (bad / split).mkdir(parents=True)
        (bad / split / "seq.in").write_text("a b\n")
        (bad / split / "seq.out").write_text("O\n")
    proc = _run([f"data.path={bad}"], tmp_path / "run")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "seq.out:1: 1 tags for 2 tokens" in proc.stderr


@pytest.mark.slow
def test_ddp_two_processes(tmp_path):
    # two processes take half the optimizer steps per epoch (the effective batch doubles): give
    # them as many steps as the single-process fixture run gets in 40 epochs
    proc = _run(sample_overrides(epochs=80, extra=["trainer=ddp"]), tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # same quality as the single-process run on the sample (test_tiny_run_overfits_sample)
    assert metrics["valid"]["f1"] > 95.0
    assert metrics["test"]["f1"] > 90.0
    assert metrics["world_size"] == 2


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.cell=transformer", "model.cell='transformer'"),
        ("model.dropout=1.5", "model.dropout=1.5"),
        ("model.intent_to_slot=true", "model.intent_to_slot=true needs the intent head"),
    ],
)
def test_cli_bad_setting_is_one_line_error(tmp_path, override, message):
    proc = _run([*sample_overrides(epochs=1), override], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr


def test_cli_multirun_sweep_writes_one_folder_per_run(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    args = [a for a in sample_overrides(epochs=1) if not a.startswith("model.hidden_size")]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", *args, "model.hidden_size=8,16", f"hydra.sweep.dir={tmp_path}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert (tmp_path / job / "metrics.json").exists() and (tmp_path / job / "model.pt").exists()
    sizes = {torch.load(tmp_path / j / "model.pt", weights_only=True)["net"]["hidden_size"] for j in ("0", "1")}
    assert sizes == {8, 16}
