"""fit.py: runs on the sample in this process (each one trains, so all are marked slow)."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from slotfill.core.schema import FORMAT_VERSION
from slotfill.evaluation.metrics import joint_score
from slotfill.models.slot_model import CHECKPOINT_KEY, SlotModel
from slotfill.training import precision
from tests.helpers import SAMPLE, train_on_sample

pytestmark = pytest.mark.slow


def test_tiny_run_overfits_sample(tmp_path):
    # every split is the sample's train split: selecting on "valid" then selects on training data
    for split in ("train", "valid", "test"):
        shutil.copytree(SAMPLE / "train", tmp_path / "data" / split)
    extra = [f"data.path={tmp_path / 'data'}", "train.word_dropout=0"]
    results = train_on_sample(tmp_path / "run", epochs=40, extra=extra)
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
    assert metrics["weights_sha256"] == model.weights_digest() and metrics["fingerprint"] == model.fingerprint()
    assert metrics["model"] == model.config.to_dict() and metrics["train"]["word_dropout"] == 0.1
    assert metrics["train"]["precision"] == model.meta["train"]["precision"] == "fp32"  # the tests' sample runs
    assert metrics["dataset"] == "sample" == model.meta["dataset"]
    assert model.meta["seed"] == metrics["seed"] and model.meta["trained_at"].endswith("+00:00")
    assert len(model.meta["data_sha256"]) == 64 and model.meta["scores"] == metrics["scores"]
    ckpt = torch.load(metrics["best_checkpoint"], weights_only=True)
    assert ckpt[CHECKPOINT_KEY]["vocabs"] == model.vocabs.to_dict(packed=True)


def test_same_seed_same_result(tmp_path):
    a = train_on_sample(tmp_path / "a", epochs=3)
    b = train_on_sample(tmp_path / "b", epochs=3)
    assert a["scores"]["valid"] == b["scores"]["valid"]
    assert a["weights_sha256"] == b["weights_sha256"]


@pytest.mark.skipif(precision.bf16_lstm_error() is not None, reason="this CPU cannot train an LSTM in bfloat16")
def test_a_run_with_bf16_lstm_layers_learns_the_sample_and_says_so(tmp_path, caplog):
    with caplog.at_level("INFO", logger="slotfill.training.fit"):
        results = train_on_sample(tmp_path, epochs=40, extra=["train.precision=bf16"])
    assert results["train"]["precision"] == "bf16"
    assert "precision: the LSTM layers train in bfloat16" in caplog.text
    assert results["scores"]["valid"]["f1"] > 95.0 and results["scores"]["test"]["f1"] > 90.0
    # trained in bfloat16, saved and served in float32
    assert all(p.dtype == torch.float32 for p in SlotModel.load(results["model_file"]).parameters())


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
    valid = results["scores"]["valid"]  # and the record says its scores are of part of the split
    assert (valid["sentences_scored"], valid["sentences_in_split"]) == (5, 20)
    assert "sentences_scored" not in results["scores"]["test"]  # tested whole


FORMATS = ["folder", "conll", "atis_iob", "jsonl", "rasa", "doccano", "labelstudio", "hub"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_trains_and_evaluates(tmp_path, fmt):
    from slotfill.cli import jobs
    from slotfill.data import formats
    from slotfill.data.convert import convert
    from tests.helpers import compose_config

    convert(SAMPLE, tmp_path / fmt, fmt)
    metrics = train_on_sample(tmp_path / "run", epochs=2, extra=[f"data.path={tmp_path / fmt}", "model.intent=true"])
    assert metrics["dataset"] == fmt and set(metrics["scores"]) == {"valid", "test"}
    test_split = tmp_path / fmt / f"test{formats.suffix(fmt)}"
    cfg = compose_config(
        [f"ckpt={metrics['model_file']}", f"split_dir={test_split}", "plots=false"], tmp_path / "ev", "evaluate"
    )
    evaluated = jobs.evaluate(cfg)
    assert evaluated["scores"]["test"]["f1"] == pytest.approx(metrics["scores"]["test"]["f1"])
    assert evaluated["scores"]["test"]["intent_accuracy"] == pytest.approx(metrics["scores"]["test"]["intent_accuracy"])


def test_atis_iob_files_reproduce_the_folder_result(tmp_path):
    """``data.format=atis_iob data.train=... data.valid=... data.test=...`` trains as the folder does."""
    from slotfill.data.convert import convert

    convert(SAMPLE, tmp_path / "iob", "atis_iob")
    files = [f"data.{s}={tmp_path / 'iob' / f'{s}.iob'}" for s in ("train", "valid", "test")]
    results = {}
    for name, extra in (("folder", []), ("iob", ["data.format=atis_iob", "data.path=null", *files])):
        results[name] = train_on_sample(tmp_path / f"run-{name}", epochs=4, extra=extra)
    assert results["iob"]["dataset"] == "iob" and results["folder"]["dataset"] == "sample"
    assert results["iob"]["scores"] == results["folder"]["scores"]
    assert results["iob"]["weights_sha256"] == results["folder"]["weights_sha256"]


def test_one_training_file_alone_trains_on_a_carved_valid_split(tmp_path):
    from slotfill.data.convert import convert

    convert(SAMPLE / "train", tmp_path / "mine" / "all.jsonl", "jsonl")
    metrics = train_on_sample(
        tmp_path / "run", epochs=1, extra=["data.path=null", f"data.train={tmp_path / 'mine' / 'all.jsonl'}"]
    )
    assert metrics["dataset"] == "all" and set(metrics["scores"]) == {"valid"}  # no test split: not tested


def test_data_fingerprint_follows_the_data():
    from datasets import Dataset, DatasetDict

    from slotfill.training.fit import data_fingerprint

    def dd(tokens):
        return DatasetDict({"train": Dataset.from_dict({"tokens": [tokens], "tags": [["O"] * len(tokens)]})})

    assert data_fingerprint(dd(["a", "b"])) == data_fingerprint(dd(["a", "b"])) != data_fingerprint(dd(["a", "c"]))
    assert data_fingerprint(None) is None


def test_init_from_starts_a_new_run_from_trained_weights(trained_sample, tmp_path):
    source = trained_sample["model_file"]
    scratch = train_on_sample(tmp_path / "scratch", epochs=1)
    extra = [f"init_from={source}", "optimizer.lr=0.001", "model.cell=gru"]
    tuned = train_on_sample(tmp_path / "tuned", epochs=1, extra=extra)
    # the architecture and the head come from the model file (the command line's model.* is said ignored)
    assert tuned["model"] == trained_sample["model"] and tuned["init_from"] == source
    assert tuned["scores"]["valid"]["f1"] > 90.0 > scratch["scores"]["valid"]["f1"]


def test_init_from_and_teacher_typed_relative_are_recorded_absolute(trained_sample, tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    shutil.copy(trained_sample["model_file"], tmp_path / "src" / "model.pt")
    monkeypatch.chdir(tmp_path)
    extra = ["init_from=src/model.pt", "train.distill_from=src/model.pt"]
    results = train_on_sample(tmp_path / "run", epochs=1, extra=extra)
    source = str(tmp_path / "src" / "model.pt")  # found again from any folder, as model_file is
    assert results["init_from"] == source and results["teacher"]["file"] == source
    assert Path(results["model_file"]).is_absolute() and Path(results["best_checkpoint"]).is_absolute()
    model = SlotModel.load(results["model_file"])
    assert model.meta["init_from"] == source and model.meta["teacher"]["file"] == source
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert config["init_from"] == "src/model.pt"  # the run's settings as typed: what resume= compares
    assert config["train"]["distill_from"] == "src/model.pt"


def test_selection_on_the_mean_of_the_last_three_validations(tmp_path):
    results = train_on_sample(tmp_path, epochs=4, extra=["monitor=val/f1_mean3"])
    assert results["monitor"] == "val/f1_mean3" and Path(results["best_checkpoint"]).exists()
    rows = (tmp_path / "logs" / "metrics.csv").read_text().splitlines()
    assert "val/f1_mean3" in rows[0] and len(rows) == 5


def test_average_last_selects_and_saves_the_mean_weights_it_validated(tmp_path):
    results = train_on_sample(tmp_path, epochs=4, extra=["train.average_last=3"])
    # the saved model is the one whose validation score (val/joint) selected it (not the epoch's own weights)
    assert joint_score(results["scores"]["valid"]) == pytest.approx(results["best_val_score"])
    saved = SlotModel.load(results["model_file"]).net.state_dict()
    raw = torch.load(results["best_checkpoint"], weights_only=True)["state_dict"]
    own = {k[len("model.net.") :]: v for k, v in raw.items() if k.startswith("model.net.")}
    assert own.keys() == saved.keys() and any(not torch.equal(own[k], saved[k]) for k in saved)
    assert results["train"]["average_last"] == 3


@pytest.mark.slow
def test_training_with_a_validation_split_without_slots_ends_with_its_reports(tmp_path):
    """A one-sentence all-O validation file: the run completes and writes metrics and reports."""
    from slotfill.cli.jobs import train
    from tests.helpers import compose_config, sample_overrides

    data = shutil.copytree(SAMPLE, tmp_path / "data")
    (data / "valid" / "seq.in").write_text("hello there\n")
    (data / "valid" / "seq.out").write_text("O O\n")
    (data / "valid" / "label").write_text((data / "train" / "label").read_text().splitlines()[0] + "\n")
    args = [a if not a.startswith("data.path=") else f"data.path={data}" for a in sample_overrides(epochs=1)]
    metrics = train(compose_config(args, tmp_path / "run"))
    assert metrics["scores"]["valid"]["slot_exact_match"] in (0.0, 100.0)
    assert (tmp_path / "run" / "valid_report.txt").is_file() and (tmp_path / "run" / "metrics.json").is_file()


def test_a_student_distilled_from_an_ensemble_learns_from_its_soft_labels(trained_sample_crf, tmp_path):
    member = SlotModel.load(trained_sample_crf["model_file"])
    teacher = SlotModel.combine([member, member]).save(tmp_path / "ensemble.pt")
    # the teacher's recipe (so the same vocabularies), the gold labels left out: all it learns is the teacher's
    extra = ["model.crf=true", "model.intent=true", "model.intent_encoder=separate", "model.intent_to_slot=true"]
    extra += [f"train.distill_from={teacher}", "train.distill_weight=1.0"]
    results = train_on_sample(tmp_path / "student", epochs=20, extra=extra)
    assert results["teacher"] == {"file": str(teacher), "fingerprint": SlotModel.load(teacher).fingerprint()}
    assert results["train"]["distill_from"] == str(teacher)
    assert results["scores"]["valid"]["f1"] > 90.0


def test_a_teacher_of_other_vocabularies_is_refused_before_training(tmp_path):
    from slotfill.errors import ConfigError
    from tests.helpers import tiny_model

    teacher = tiny_model(intent=True).save(tmp_path / "tiny.pt")
    with pytest.raises(ConfigError, match=r"^train.distill_from=.*tiny.pt: the teacher's vocabularies .* differ"):
        train_on_sample(tmp_path / "student", epochs=1, extra=[f"train.distill_from={teacher}"])
    assert not (tmp_path / "student" / "model.pt").exists()


def test_a_temperature_with_a_crf_teacher_is_refused_before_training(trained_sample_crf, tmp_path):
    from slotfill.errors import ConfigError

    teacher, extra = trained_sample_crf["model_file"], ["model.crf=true", "model.intent=true"]
    extra += ["model.intent_encoder=separate", "model.intent_to_slot=true", "train.distill_temperature=2"]
    with pytest.raises(ConfigError, match=r"^train.distill_temperature=2: the teacher .*model.pt has a CRF"):
        train_on_sample(tmp_path / "student", epochs=1, extra=[f"train.distill_from={teacher}", *extra])
    assert not (tmp_path / "student" / "model.pt").exists()


def test_distillation_settings_without_a_teacher_are_said_to_be_ignored(tmp_path, caplog):
    from slotfill.training.fit import build
    from tests.helpers import compose_config, sample_overrides

    extra = ["train.distill_temperature=2", "train.distill_weight=0.7"]
    with caplog.at_level("WARNING", logger="slotfill.training.fit"):
        build(compose_config(sample_overrides(epochs=1, extra=extra), tmp_path / "run"))
    assert "train.distill_weight=0.7, train.distill_temperature=2.0: no teacher (train.distill_from)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="slotfill.training.fit"):
        build(compose_config(sample_overrides(epochs=1), tmp_path / "plain"))
    assert "no teacher" not in caplog.text


def test_a_temperature_needs_softmax_scores_on_both_sides():
    from slotfill.errors import ConfigError
    from slotfill.models import NetConfig
    from slotfill.training.fit import _check_temperature
    from slotfill.training.module import TrainConfig

    softmax, crf = NetConfig(), NetConfig(crf=True)
    hot, cold = TrainConfig(distill_from="t.pt", distill_temperature=2), TrainConfig(distill_from="t.pt")
    _check_temperature(hot, softmax, softmax)
    for teacher, student in ((crf, crf), (crf, softmax), (softmax, crf)):
        _check_temperature(cold, teacher, student)  # T = 1: a CRF's marginals as they are
    with pytest.raises(ConfigError, match=r"^train.distill_temperature=2: the teacher t.pt has a CRF"):
        _check_temperature(hot, crf, softmax)
    with pytest.raises(ConfigError, match=r"^train.distill_temperature=2: this run's model has a CRF"):
        _check_temperature(hot, softmax, crf)


def test_init_from_an_ensemble_is_refused_with_the_way_to_learn_from_it(tmp_path):
    from slotfill.errors import ConfigError
    from tests.helpers import tiny_model

    ensemble = SlotModel.combine([tiny_model(seed=1), tiny_model(seed=2)]).save(tmp_path / "ensemble.pt")
    with pytest.raises(ConfigError, match=r"an ensemble of 2 models cannot start one network.*train.distill_from="):
        train_on_sample(tmp_path / "run", epochs=1, extra=[f"init_from={ensemble}"])


def test_init_from_names_only_the_model_settings_given_that_its_model_does_not_follow():
    from slotfill.training.fit import ignored_model_settings

    used = {"cell": "lstm", "hidden_size": 128, "crf": False}
    given = ["model.cell=gru", "model.hidden_size=128", "+model.crf=False", "model=gru", "model.nosuch=1"]
    assert ignored_model_settings(given, used) == ["model.cell=gru", "model=gru", "model.nosuch=1"]
    assert ignored_model_settings([], used) == []  # defaults the command line did not give are not named


class InterruptAtTest:
    """A callback that stands for Ctrl-C pressed while the test split is scored, after fitting."""

    def __new__(cls):
        import pytorch_lightning as pl

        class _Interrupt(pl.Callback):
            def on_test_start(self, trainer, pl_module):
                raise KeyboardInterrupt

        return _Interrupt()


@pytest.mark.slow
def test_ctrl_c_while_the_test_split_is_scored_is_an_interrupted_run(tmp_path):
    from slotfill.cli.jobs import train
    from tests.helpers import compose_config, sample_overrides

    extra = ["+callbacks.interrupt._target_=tests.test_fit.InterruptAtTest"]
    with pytest.raises(KeyboardInterrupt):
        train(compose_config(sample_overrides(epochs=1, extra=extra), tmp_path))
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "interrupted"
    assert not (tmp_path / "model.pt").exists()


def test_a_resumed_runs_relative_init_from_record_stays_as_recorded(tmp_path, monkeypatch):
    """A checkpoint of a run begun before init_from was recorded absolute holds it relative to where that run
    started: made absolute against the folder a resume starts from, it named another file."""
    from types import SimpleNamespace

    from slotfill.training.fit import _model
    from tests.helpers import tiny_model

    checkpoint = tiny_model(intent=True)
    checkpoint.meta["init_from"] = "src/model.pt"
    path = checkpoint.save(tmp_path / "last.pt")
    monkeypatch.chdir(tmp_path)
    data = SimpleNamespace(vocabs=checkpoint.vocabs)
    resumed = _model(checkpoint.config, str(path), data, {}, origin="src/model.pt")
    assert resumed.meta["init_from"] == "src/model.pt"
    fresh = _model(checkpoint.config, str(path), data, {})  # typed in this process: absolute
    assert fresh.meta["init_from"] == str(tmp_path / "last.pt")
