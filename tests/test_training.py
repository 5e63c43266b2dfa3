"""training.py: runs on the sample in this process (each one trains, so all are marked slow)."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from slotfill.model import CHECKPOINT_KEY, SlotModel
from slotfill.schema import FORMAT_VERSION
from tests.helpers import SAMPLE, train_on_sample

pytestmark = pytest.mark.slow


def test_tiny_run_overfits_sample(tmp_path):
    # every split is the sample's train split: selecting on "valid" then selects on training data
    for split in ("train", "valid", "test"):
        shutil.copytree(SAMPLE / "train", tmp_path / "data" / split)
    results = train_on_sample(tmp_path / "run", epochs=40, extra=[f"data.path={tmp_path / 'data'}"])
    assert results["scores"]["test"]["f1"] == pytest.approx(100.0)
    assert results["scores"]["test"]["sentence_accuracy"] == pytest.approx(100.0)


def test_sample_run_generalises_to_held_out_sentences(trained_sample):
    # valid/test hold unseen sentences built from the same templates
    assert trained_sample["scores"]["valid"]["f1"] > 95.0
    assert trained_sample["scores"]["test"]["f1"] > 90.0


def test_run_folder_holds_a_self_contained_model_and_one_schema(trained_sample):
    out = Path(trained_sample["model_file"]).parent
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(trained_sample))
    assert metrics["kind"] == "train" and metrics["format"] == FORMAT_VERSION
    assert {"precision", "recall", "f1", "strict_f1", "sentence_accuracy"} <= set(metrics["scores"]["test"])
    assert metrics["train_sent_per_s_median"] > 0 and metrics["epochs"] > 0
    assert "fromloc.city_name" in (out / "test_report.txt").read_text()
    model = SlotModel.load(out / "model.pt")
    assert metrics["weights_sha256"] == model.fingerprint()
    assert metrics["model"] == model.config.to_dict() and metrics["train"]["word_dropout"] == 0.1
    assert metrics["dataset"] == "sample" == model.meta["dataset"]
    ckpt = torch.load(metrics["best_checkpoint"], weights_only=True)
    assert ckpt[CHECKPOINT_KEY]["vocabs"] == model.vocabs.to_dict()


def test_same_seed_same_result(tmp_path):
    a = train_on_sample(tmp_path / "a", epochs=3)
    b = train_on_sample(tmp_path / "b", epochs=3)
    assert a["scores"]["valid"] == b["scores"]["valid"]
    assert a["weights_sha256"] == b["weights_sha256"]


def test_fast_dev_run_trains_one_batch_and_scores_what_it_saw(tmp_path):
    results = train_on_sample(tmp_path, epochs=3, extra=["trainer.fast_dev_run=true"])
    assert results["epochs"] == 1 and results["best_checkpoint"] is None
    assert 0 <= results["scores"]["valid"]["f1"] <= 100
    assert (tmp_path / "model.pt").exists()


def test_limit_val_batches_scores_the_validated_part(tmp_path):
    extra = ["trainer.limit_val_batches=1", "data.eval_batch_size=5"]
    results = train_on_sample(tmp_path, epochs=2, extra=extra)
    assert (tmp_path / "model.pt").exists() and results["scores"]["valid"]["f1"] >= 0
    report = (tmp_path / "valid_report.txt").read_text()
    assert int(report.split("micro avg")[1].split()[-1]) < 30  # support: a batch of 5 sentences, not all 20


def test_init_from_starts_a_new_run_from_trained_weights(trained_sample, tmp_path):
    source = trained_sample["model_file"]
    scratch = train_on_sample(tmp_path / "scratch", epochs=1)
    tuned = train_on_sample(tmp_path / "tuned", epochs=1, extra=[f"init_from={source}", "optimizer.lr=0.001"])
    # the architecture and the head come from the model file; one epoch keeps what it learned
    assert tuned["model"] == trained_sample["model"] and tuned["init_from"] == source
    assert tuned["scores"]["valid"]["f1"] > 90.0 > scratch["scores"]["valid"]["f1"]
