"""jobs.py: the orchestrators behind the entry scripts, called in this process."""

import json
import re

import pytest

from slotfill.cli import jobs
from slotfill.errors import SlotfillError
from tests.conftest import write_split
from tests.helpers import compose_config


def _cfg(name, overrides, out):
    return compose_config(overrides, out, config_name=name)


def test_predict_writes_jsonl_for_every_sentence(tiny_model_file, tmp_path):
    out = tmp_path / "out.jsonl"
    cfg = _cfg("predict", [f"ckpt={tiny_model_file}", "format=jsonl", f"output={out}"], tmp_path)
    assert jobs.predict(cfg, ["i want to leave taipei", "", "to boston"]) == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in lines] == ["i want to leave taipei", "", "to boston"]
    assert set(lines[0]) == {"text", "tokens", "tags", "spans", "intent", "intent_confidence", "intent_ranking"}
    with pytest.raises(SlotfillError, match="format=xml"):
        jobs.predict(_cfg("predict", [f"ckpt={tiny_model_file}", "format=xml"], tmp_path), ["hi"])


def _two_sentence_split(tmp_path):
    """A test split of two sentences, one with a slot type and an intent the tiny model never saw."""
    return write_split(
        tmp_path / "own",
        "test",
        "i want to leave taipei\nfly to the moon tonight\n",
        "O O O O B-from\nO O O B-celestial.body B-depart_time.period_of_day\n",
        "flight\nspaceflight\n",
    )


@pytest.mark.slow
def test_evaluate_scores_a_split_folder_and_writes_the_shared_schema(tiny_model_file, tmp_path):
    d = _two_sentence_split(tmp_path)
    metrics = jobs.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}"], tmp_path / "out"))
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    assert written["kind"] == "evaluate" and written["data"] == str(d) and written["dataset"] == "tiny"
    assert written["precision"] == "fp32"  # what it ran in: precision=auto resolved (the tiny model: float32)
    assert written["backend"] == "torch"  # backend=auto resolved from the file
    assert "(torch, fp32) on" in (tmp_path / "out" / "report.md").read_text().splitlines()[0]
    scores = written["scores"]["test"]
    assert scores["recall"] < 100.0  # the unseen slots are gold chunks the model cannot find
    assert written["per_slot"]["celestial.body"]["support"] == 1
    assert scores["intent_accuracy"] <= 50.0
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert any(e["gold_intent"] == "spaceflight" for e in errors)
    for name in ("report.md", "report.txt"):
        assert (tmp_path / "out" / name).exists()
    assert written["per_intent"]["spaceflight"]["support"] == 1 and written["per_intent"]["spaceflight"]["recall"] == 0
    assert set(written["calibration"]) == {"span", "intent"} and written["calibration"]["intent"]["n"] == 2
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Per-intent report" in report and "## Calibration" in report
    for name in ("per_slot_f1", "slot_confusion", "intent_confusion", "confidence_histogram", "reliability"):
        assert (tmp_path / "out" / f"{name}.png").stat().st_size > 1000, name
    # the same folder again, without figures: an earlier evaluation's are not left beside the new metrics
    again = [f"ckpt={tiny_model_file}", f"split_dir={d}", "plots=false"]
    jobs.evaluate(_cfg("evaluate", again, tmp_path / "out"))
    assert not list((tmp_path / "out").glob("*.png")) and not list((tmp_path / "out").glob("*.svg"))


@pytest.mark.parametrize(
    "fmt, pattern",
    [
        ("conll", r"# intent = \S+\nto\t\S+\nboston\t\S+\n\n$"),
        ("seq.out", r"^\S+ \S+\n$"),
        ("rasa", r"nlu:\n- intent:"),
    ],
)
def test_predict_writes_data_formats(tiny_model_file, tmp_path, fmt, pattern):
    import re

    out = tmp_path / "out.txt"
    jobs.predict(
        _cfg("predict", [f"ckpt={tiny_model_file}", f"format={fmt}", f"output={out}"], tmp_path), ["to boston"]
    )
    assert re.search(pattern, out.read_text())


@pytest.mark.slow
def test_evaluate_reads_any_format_and_reports_by_the_data(tiny_model_file, tmp_path, capsys):
    test = tmp_path / "mine" / "test.conll"
    test.parent.mkdir()
    test.write_text("# intent = flight\nplay\tO\njazz\tS-genre\n\n")
    metrics = jobs.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={test}"], tmp_path / "out"))
    assert metrics["per_slot"]["genre"]["support"] == 1 and metrics["direction_confusions"] is None
    out = capsys.readouterr().out
    assert "departure" not in out and "Departure" not in (tmp_path / "out" / "report.md").read_text()
    cfg = _cfg("evaluate", [f"ckpt={tiny_model_file}", f"data.path={tmp_path / 'mine'}", "split=test"], tmp_path / "o2")
    with pytest.raises(SlotfillError, match="no train split"):  # a folder holding only a test file
        jobs.evaluate(cfg)


def test_objective_is_the_monitored_validation_score():
    assert jobs.objective({}) is None
    assert jobs.objective({"best_val_score": 91.5, "scores": {}}) == 91.5
    valid = {"f1": 80.0, "intent_accuracy": 90.0}
    assert jobs.objective({"best_val_score": None, "monitor": "val/joint", "scores": {"valid": valid}}) == 85.0
    assert jobs.objective({"best_val_score": None, "monitor": "val/f1", "scores": {"valid": valid}}) == 80.0


def test_predict_streams_in_chunks_and_checks_the_output_first(tiny_model_file, tmp_path, monkeypatch):
    from slotfill.inference.tagger import SlotTagger

    f = tmp_path / "in.txt"
    f.write_text("".join(f"to boston {i}\n" for i in range(5)))
    sizes = []
    predict = SlotTagger.predict
    spy = lambda self, texts, **kw: sizes.append(len(texts)) or predict(self, texts)  # noqa: E731
    monkeypatch.setattr(SlotTagger, "predict", spy)
    monkeypatch.setattr(jobs, "PREDICT_CHUNK", 2)
    out = tmp_path / "out.jsonl"
    cfg = _cfg("predict", [f"ckpt={tiny_model_file}", "format=jsonl", f"input={f}", f"output={out}"], tmp_path)
    assert jobs.predict(cfg, []) == 5 and sizes == [2, 2, 1]
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == [f"to boston {i}" for i in range(5)]
    monkeypatch.setattr(SlotTagger, "load", lambda *a, **k: pytest.fail("the model was loaded before the output"))
    bad = _cfg("predict", [f"ckpt={tiny_model_file}", f"output={tmp_path / 'no' / 'out'}"], tmp_path)
    with pytest.raises(SlotfillError, match="cannot write"):
        jobs.predict(bad, ["hi"])


def test_predict_gives_the_same_output_with_chunks_tagged_at_once(tiny_model_file, tmp_path, monkeypatch):
    from slotfill.inference.tagger import SlotTagger

    f = tmp_path / "in.txt"
    f.write_text("".join(f"from taipei to boston {i}\n" for i in range(23)))
    monkeypatch.setattr(jobs, "PREDICT_CHUNK", 4)
    outputs = []
    for workers in (1, 3):
        out = tmp_path / f"out{workers}.jsonl"
        settings = [f"ckpt={tiny_model_file}", "format=jsonl", f"input={f}", f"output={out}", f"workers={workers}"]
        cfg = _cfg("predict", settings, tmp_path)
        assert jobs.predict(cfg, []) == 23
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 23
    # a chunk that fails in a worker fails the run, and no partial output is left
    predict = SlotTagger.predict

    def failing(self, texts, **kw):
        if any(t.endswith(" 9") for t in texts):
            raise SlotfillError("the tagger failed")
        return predict(self, texts, **kw)

    monkeypatch.setattr(SlotTagger, "predict", failing)
    out = tmp_path / "failed.jsonl"
    settings = [f"ckpt={tiny_model_file}", "format=jsonl", f"input={f}", f"output={out}", "workers=2"]
    cfg = _cfg("predict", settings, tmp_path)
    with pytest.raises(SlotfillError, match="the tagger failed"):
        jobs.predict(cfg, [])
    assert not out.exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["batch_size=0"], "batch_size=0"),
        (["threads=abc"], "threads='abc'"),
        (["workers=0"], "workers=0: at least 1"),
        (["precision=fp8"], "precision='fp8'"),
        (["backend=tpu"], "backend='tpu'"),
        (["ckpt=/nope.pt"], "checkpoint not found"),
        (["input=/nope.txt"], "input=/nope.txt: file not found"),
        (["input=TMP"], "plain predict reads one file; engine=ray reads folders and globs"),
        (["input=TMP/*.parquet"], "plain predict reads one file; engine=ray reads folders and globs"),
        (["input=TMP/bad.parquet"], "bad.parquet: no text column (it has query)"),
        (["input=file:///tmp/in.txt"], "plain predict reads a local file; engine=ray reads URLs"),
        (["input=/dev/null"], "input=/dev/null: not a regular file (a pipe or a device): send it on standard input"),
        (["engine=ray", "input=TMP", "output=TMP/out", "workers=banana"], "workers='banana'"),  # not ignored
        (["engine=ray", "input=TMP", "output=TMP/out", "workers=4"], "workers=4: plain predict's; engine=ray runs"),
    ],
)
def test_predict_settings_are_checked_before_any_work(tiny_model_file, tmp_path, monkeypatch, overrides, message):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slotfill.inference.tagger import SlotTagger

    pq.write_table(pa.table({"query": ["hi"]}), tmp_path / "bad.parquet")
    monkeypatch.setattr(SlotTagger, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    overrides = [o.replace("TMP", str(tmp_path)) for o in overrides]
    with pytest.raises(SlotfillError, match=re.escape(message)):
        jobs.predict(_cfg("predict", [f"ckpt={tiny_model_file}", *overrides], tmp_path), ["hi"])


@pytest.mark.parametrize("name", ["empty.txt", "empty.parquet"])
def test_an_empty_input_file_is_refused_before_the_model_loads(tiny_model_file, tmp_path, monkeypatch, name):
    """Unless the command line gives sentences too: then the empty file adds none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slotfill.inference.tagger import SlotTagger

    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "empty.parquet")
    (tmp_path / "empty.txt").write_text("")
    args = [f"ckpt={tiny_model_file}", f"input={tmp_path / name}", f"output={tmp_path / 'out.txt'}"]
    load = SlotTagger.load
    monkeypatch.setattr(SlotTagger, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(SlotfillError, match=re.escape(f"{name}: no lines to tag")):
        jobs.predict(_cfg("predict", args, tmp_path), [])
    monkeypatch.setattr(SlotTagger, "load", load)
    assert jobs.predict(_cfg("predict", args, tmp_path), ["to boston"]) == 1


def test_predict_reads_jsonl_and_parquet_inputs_as_engine_ray_does(tiny_model_file, tmp_path):
    """The same sentences as a text file, a jsonl file's text fields and a parquet file's text column
    (over two chunks and row groups of another size) give the same records; a bad jsonl line is
    named."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [f"from taipei to boston {i}" for i in range(7)] + [""]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(texts)))
    pq.write_table(pa.table({"text": texts}), tmp_path / "in.parquet", row_group_size=3)
    outputs = []
    for name in ("in.txt", "in.jsonl", "in.parquet"):
        out = tmp_path / f"{name}.out"
        args = [f"ckpt={tiny_model_file}", "format=jsonl", f"input={tmp_path / name}", f"output={out}"]
        assert jobs.predict(_cfg("predict", args, tmp_path), []) == len(texts)
        outputs.append(out.read_text())
    assert [json.loads(line)["text"] for line in outputs[0].splitlines()] == texts
    assert outputs[1] == outputs[0] and outputs[2] == outputs[0]
    (tmp_path / "bad.jsonl").write_text('{"text": "to boston"}\n"to denver"\n')
    args = [f"ckpt={tiny_model_file}", f"input={tmp_path / 'bad.jsonl'}", f"output={tmp_path / 'bad.out'}"]
    with pytest.raises(SlotfillError, match=r'bad.jsonl:2: expected an object with a "text" string'):
        jobs.predict(_cfg("predict", args, tmp_path), [])


@pytest.mark.slow
def test_evaluate_warns_when_the_model_knows_few_of_the_gold_labels(tiny_model_file, tmp_path, capsys):
    d = write_split(tmp_path / "other", "test", "play some jazz\n", "O O B-genre\n", None)
    jobs.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}"], tmp_path / "out"))
    err = capsys.readouterr().err
    assert "warning: the model knows 0 of the 1 slot labels" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_training_into_a_used_folder_or_with_unknown_keys_is_refused(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"an earlier run's model")
    with pytest.raises(SlotfillError, match="run folder is not empty"):
        jobs.train(compose_config(["data=sample"], tmp_path))
    assert (tmp_path / "model.pt").read_bytes() == b"an earlier run's model"
    with pytest.raises(SlotfillError, match="unknown setting ckpt_path.*resume=RUN_DIR"):
        jobs.train(compose_config(["data=sample", "+ckpt_path=x.ckpt"], tmp_path / "new"))
    for override, message in [("data.batch_size=0", "data.batch_size=0"), ("monitor=val/loss", "monitor=val/loss")]:
        with pytest.raises(SlotfillError, match=message):
            jobs.train(compose_config(["data=sample", override], tmp_path / "new"))


@pytest.mark.slow
def test_predict_refuses_to_write_over_its_model_or_the_file_it_reads_on_standard_input(
    tiny_model_file, tmp_path, monkeypatch
):
    import os
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    model = run / "model.pt"
    shutil.copy(tiny_model_file, model)
    (run / "model.onnx.json").write_text("{}")
    for output in (model, run / "model.onnx.json"):
        cfg = _cfg("predict", [f"ckpt={run}", "text=to boston", f"output={output}"], tmp_path)
        with pytest.raises(SlotfillError, match="is the model's own file"):
            jobs.predict(cfg)
    assert (run / "model.pt").read_bytes() == open(tiny_model_file, "rb").read()
    src = tmp_path / "in.txt"
    src.write_text("to boston\n")
    with open(src) as stdin:  # predict input=- output=in.txt < in.txt
        monkeypatch.setattr(os, "fstat", lambda fd, real=os.fstat: real(stdin.fileno()) if fd == 0 else real(fd))
        cfg = _cfg("predict", [f"ckpt={run}", "input=-", f"output={src}"], tmp_path)
        with pytest.raises(SlotfillError, match="is the input file"):
            jobs.predict(cfg)
    assert src.read_text() == "to boston\n"


def test_ray_settings_without_engine_ray_are_refused(tiny_model_file, tmp_path):
    """A user who forgot engine=ray got a plain local run of a file meant for a cluster."""
    cfg = _cfg("predict", [f"ckpt={tiny_model_file}", "text=to boston", "ray.concurrency=8"], tmp_path)
    with pytest.raises(SlotfillError, match="ray.concurrency=8: engine=ray's; add engine=ray"):
        jobs.predict(cfg)


def test_predict_refuses_to_write_over_its_input(tiny_model_file, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("to boston\n")
    for output in (src, tmp_path / "." / "in.txt"):
        cfg = _cfg("predict", [f"ckpt={tiny_model_file}", f"input={src}", f"output={output}"], tmp_path)
        with pytest.raises(SlotfillError, match="is the input file: results would replace the sentences"):
            jobs.predict(cfg)
    assert src.read_text() == "to boston\n"


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("optimizer.lr=nan", "lr=nan: must be a number above 0"),
        ("optimizer.lr=-0.01", "lr=-0.01: must be a number above 0"),
        ("+optimizer.betas=[2.0,0.9]", "betas=.*Invalid beta parameter"),  # the optimizer's own check, named
    ],
)
def test_a_bad_optimizer_setting_is_refused_before_the_data_is_read(tmp_path, monkeypatch, setting, problem):
    from slotfill.training import datamodule

    monkeypatch.setattr(datamodule.SlotDataModule, "prepare", lambda self: pytest.fail("read the data first"))
    with pytest.raises(SlotfillError, match=f"^optimizer.{problem}"):  # the setting named
        jobs.train(compose_config(["data=sample", setting], tmp_path / "run"))


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["evaluate", "ckpt={tmp}/no_model.pt"], "checkpoint not found"),
        (["evaluate", "ckpt={tmp}/no_model.pt", "batch_size=0"], "batch_size=0"),
        (["train", "trainer.max_epochs=0"], "trainer.max_epochs=0"),
        (["train", "data.path={tmp}/no_data"], "data.path not found"),
        (["train", "data=sample", "logger=null"], "cannot be set to null (GROUP=null): remove it with ~GROUP"),
    ],
)
def test_a_refused_job_leaves_no_folder_of_its_own(tmp_path, capsys, argv, problem):
    from slotfill.cli.main import main

    run = tmp_path / "outputs" / "run"
    with pytest.raises(SystemExit) as e:
        main([a.replace("{tmp}", str(tmp_path)) for a in argv] + [f"hydra.run.dir={run}"])
    assert e.value.code == 2 and problem in capsys.readouterr().err
    assert not run.exists()  # Hydra made it, with .hydra/ and an empty log: nothing to keep


def test_a_refused_job_keeps_a_folder_that_was_there_before_and_the_working_folder(tmp_path, monkeypatch):
    """evaluate output_dir=. (now the run folder) removed the working folder itself; a user's own empty
    folder went too."""
    from slotfill.cli.main import main

    mine = tmp_path / "mine"
    mine.mkdir()
    monkeypatch.chdir(mine)
    for where in (".", str(mine)):
        with pytest.raises(SystemExit):
            main(["evaluate", f"ckpt={tmp_path}/no_model.pt", f"output_dir={where}"])
        assert mine.is_dir() and not any(mine.iterdir())  # kept, without Hydra's files
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(SystemExit):  # named with "..": Hydra's folder is the same one, written otherwise
        main(["evaluate", f"ckpt={tmp_path}/no_model.pt", f"output_dir={mine}/../other"])
    assert other.is_dir()


def test_a_refused_job_keeps_what_was_in_its_folder_before(tmp_path, capsys):
    from slotfill.cli.main import main

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit):
        main(["evaluate", f"ckpt={tmp_path}/no_model.pt", f"hydra.run.dir={tmp_path}"])
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_predict_format_rasa_streams_an_item_per_intent_and_chunk_that_reads_back_whole(
    tiny_model_file, tmp_path, monkeypatch
):
    from slotfill.data.formats import rasa

    monkeypatch.setattr(jobs, "PREDICT_CHUNK", 2)
    lines = ["to boston", "", "from taipei", "to denver", "fly to boston", "what fares"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.yml"
    cfg = _cfg(
        "predict", [f"ckpt={tiny_model_file}", "format=rasa", f"input={tmp_path / 'in.txt'}", f"output={out}"], tmp_path
    )
    assert jobs.predict(cfg) == 6
    text = out.read_text()
    assert text.startswith(rasa.HEADER) and text.count("nlu:") == 1
    assert text.count("- intent:") >= 3  # chunks of 2 lines: written as they are tagged, not at the end
    records = rasa.read(out)
    assert sorted(" ".join(r.tokens) for r in records) == sorted(line for line in lines if line)  # the blank one: none


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_a_refused_job_keeps_a_folder_used_before_and_a_resumed_runs_folder(tmp_path, capsys):
    from slotfill.cli.main import main
    from slotfill.training.run_folder import LOCK_FILE, lock

    used = tmp_path / "used"
    (used / ".hydra").mkdir(parents=True)
    (used / "train.log").write_text("a run killed while its data loaded\n")
    with pytest.raises(SystemExit):
        main(["train", "trainer.max_epochs=0", f"hydra.run.dir={used}"])
    assert "a run killed while its data loaded" in (used / "train.log").read_text()
    killed = tmp_path / "killed"  # what a run killed before its first epoch leaves: resume= is refused, not the folder
    with lock(killed):
        (killed / ".hydra").mkdir()
    with pytest.raises(SystemExit):
        main(["train", f"resume={killed}"])
    assert (killed / LOCK_FILE).exists() and (killed / ".hydra").is_dir()
    capsys.readouterr()


def test_predict_format_rasa_of_blank_lines_alone_is_a_file_that_reads_back(tiny_model_file, tmp_path):
    from slotfill.data.formats import rasa

    (tmp_path / "in.txt").write_text("\n  \n\n")
    out = tmp_path / "out.yml"
    cfg = _cfg(
        "predict", [f"ckpt={tiny_model_file}", "format=rasa", f"input={tmp_path / 'in.txt'}", f"output={out}"], tmp_path
    )
    assert jobs.predict(cfg) == 3
    assert out.read_text() == 'version: "3.1"\nnlu: []\n' and rasa.read_with_extras(out)[0] == []


def test_evaluate_into_a_training_runs_folder_is_refused_before_hydra_writes_there(tmp_path, capsys):
    from slotfill.cli.main import main

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("the run's settings\n")
    (run / "run.json").write_text('{"status": "completed"}')
    (run / "metrics.json").write_text('{"kind": "train"}')
    with pytest.raises(SystemExit) as e:
        main(["evaluate", f"ckpt={run}", f"hydra.run.dir={run}"])
    assert e.value.code == 2 and "a training run's folder (its run.json)" in capsys.readouterr().err
    assert (run / ".hydra" / "config.yaml").read_text() == "the run's settings\n"
    assert (run / "metrics.json").read_text() == '{"kind": "train"}'
    with pytest.raises(SystemExit) as e:  # output_dir is the evaluation's folder, as hydra.run.dir is
        main(["evaluate", f"ckpt={run}", f"output_dir={run}"])
    assert e.value.code == 2 and f"output_dir={run}: a training run's folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # ...so the two naming two folders are one too many
        main(["evaluate", f"ckpt={run}", f"output_dir={run}", f"hydra.run.dir={tmp_path / 'eval'}"])
    assert e.value.code == 2 and "one run, one folder" in capsys.readouterr().err
    assert (run / "metrics.json").read_text() == '{"kind": "train"}'


def test_a_run_dir_named_through_an_environment_variable_is_checked_before_hydra_writes(tmp_path, capsys, monkeypatch):
    from slotfill.cli.main import main

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("the run's settings\n")
    (run / "run.json").write_text('{"status": "completed"}')
    monkeypatch.setenv("RUNDIR", str(run))
    with pytest.raises(SystemExit) as e:
        main(["evaluate", f"ckpt={run}", "hydra.run.dir=${oc.env:RUNDIR}"])
    assert e.value.code == 2 and "hydra.run.dir" in capsys.readouterr().err
    assert (run / ".hydra" / "config.yaml").read_text() == "the run's settings\n"
    assert sorted(p.name for p in run.iterdir()) == [".hydra", "run.json"]  # no evaluate.log either


@pytest.mark.slow
def test_a_failed_evaluation_leaves_the_earlier_ones_settings_beside_its_scores(tiny_model_file, tmp_path, capsys):
    """``compare`` reads a folder's settings from ``.hydra/``: a second evaluation into the folder that
    fails must not leave its own settings there beside the first one's scores."""
    from slotfill.cli.main import main

    run = tmp_path / "ev"
    args = [f"ckpt={tiny_model_file}", "data=sample", "plots=false", f"hydra.run.dir={run}"]
    assert main(["evaluate", *args]) == 0
    settings = (run / ".hydra" / "overrides.yaml").read_text()
    with pytest.raises(SystemExit) as e:
        main(["evaluate", *args, "batch_size=0"])
    assert e.value.code == 2 and "batch_size=0" in capsys.readouterr().err
    assert (run / ".hydra" / "overrides.yaml").read_text() == settings
    assert not (run / ".earlier_run_record").exists()
    assert main(["evaluate", *args, "batch_size=2"]) == 0  # a later one that succeeds: its own settings
    assert "batch_size=2" in (run / ".hydra" / "overrides.yaml").read_text()
    assert not (run / ".earlier_run_record").exists()


def test_a_split_dir_is_scored_under_the_split_its_name_says_whatever_split_says(tiny_model_file, tmp_path):
    d = write_split(tmp_path / "own", "valid", "i want to leave taipei\n", "O O O O B-from\n", "flight\n")
    for split in ("test", "train"):  # split= does not apply to a split_dir
        cfg = _cfg(
            "evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}", f"split={split}", "plots=false"], tmp_path / split
        )
        jobs.evaluate(cfg)
        assert list(json.loads((tmp_path / split / "metrics.json").read_text())["scores"]) == ["valid"]


def test_a_figure_that_cannot_be_drawn_is_a_warning_on_a_completed_run(tmp_path, monkeypatch, capsys):
    from omegaconf import OmegaConf

    from slotfill.cli import jobs
    from slotfill.errors import SlotfillError
    from slotfill.evaluation import plots

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "metrics.csv").write_text("epoch\n0\n")

    def full(*args, **kwargs):
        raise SlotfillError(f"{tmp_path}/learning_curves.svg: cannot write (No space left on device)")

    monkeypatch.setattr(plots, "learning_curves", full)
    jobs._draw_learning_curves(OmegaConf.create({"plots": True}), tmp_path)  # no exception: the run is done
    err = capsys.readouterr().err
    assert "warning: learning curves not drawn (" in err
    assert f"slotfill plot {tmp_path} -o {tmp_path / 'learning_curves'} draws them" in err
    (tmp_path / "logs" / "metrics.csv").unlink()
    jobs._draw_learning_curves(OmegaConf.create({"plots": True}), tmp_path)
    assert "no logs/metrics.csv (the logger removed): learning curves not drawn" in capsys.readouterr().err


def test_a_fast_dev_run_is_not_said_to_have_had_its_logger_removed(tmp_path, capsys):
    from omegaconf import OmegaConf

    jobs._draw_learning_curves(OmegaConf.create({"plots": True, "trainer": {"fast_dev_run": True}}), tmp_path)
    err = capsys.readouterr().err
    assert "no logs/metrics.csv (trainer.fast_dev_run logs nothing): learning curves not drawn" in err
    assert "logger removed" not in err


@pytest.mark.slow
def test_evaluate_records_the_model_it_scored_as_an_absolute_path(tiny_model_file, tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()
    tiny_model_file.rename(tmp_path / "run" / "model.pt")
    d = _two_sentence_split(tmp_path)
    monkeypatch.chdir(tmp_path)
    metrics = jobs.evaluate(_cfg("evaluate", ["ckpt=run", f"split_dir={d}", "plots=false"], tmp_path / "out"))
    assert metrics["model_file"] == str(tmp_path / "run")  # typed relative: read back from any folder


def test_a_run_json_that_cannot_be_written_leaves_the_first_failure_the_one_reported(tmp_path, capsys):
    from slotfill.cli import jobs
    from slotfill.errors import SlotfillError

    class FullDisk:
        started = True

        def finish(self, status, error=None):
            raise SlotfillError(f"{tmp_path}/run.json: cannot write (No space left on device)")

    jobs._record_end(FullDisk(), "failed", error="OSError: last.ckpt: No space left on device")
    assert "warning: could not record the run as failed in run.json" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_draws_the_confusion_matrices_top_k_sets(tiny_model_file, tmp_path, monkeypatch):
    from slotfill.evaluation import plots

    d = _two_sentence_split(tmp_path)
    drawn = {}
    monkeypatch.setattr(plots, "evaluation_figures", lambda result, out_dir, top_k: drawn.update(result, top_k=top_k))
    jobs.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}", "top_k=2"], tmp_path / "out"))
    # O and the 2 most frequent of the 3 gold slot types, the third in (other)
    assert drawn["top_k"] == 2 and drawn["type_matrix"][0][:3] == ["O", "from", "celestial.body"]
    assert drawn["type_matrix"][0][3:] == ["(other)"]


@pytest.mark.slow
def test_sigterm_outside_lightnings_fit_ends_the_run_as_ctrl_c_does(tmp_path, monkeypatch):
    """Between Lightning's stages (reloading the best epoch, writing model.pt) SIGTERM killed the
    process at once: run.json stayed "running", nothing was said, a model.pt without its metrics."""
    import os
    import signal
    import time

    from slotfill.core.schema import run_record
    from slotfill.training import fit

    out = tmp_path / "run"

    def fit_then_terminated(cfg, ckpt_path=None, before_fit=None):
        before_fit()
        (out / "checkpoints").mkdir(parents=True)
        (out / "checkpoints" / "last.ckpt").write_bytes(b"an epoch")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal's handler raises in here
        pytest.fail("SIGTERM did not interrupt the run")

    monkeypatch.setattr(fit, "fit", fit_then_terminated)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match=f"continue the run with slotfill train resume={out}"):
        jobs.train(compose_config(["data=sample"], out))
    assert run_record(out)["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) == before  # the caller's handler back


@pytest.mark.slow
def test_a_signal_while_the_run_is_recorded_complete_leaves_it_complete(tmp_path, monkeypatch):
    """A SIGTERM that landed after run.json said completed, but before the run knew it, rewrote the
    finished run as interrupted and offered to resume it."""
    import os
    import signal
    from types import SimpleNamespace

    from slotfill.core.schema import run_record
    from slotfill.training import fit
    from slotfill.training.run_folder import RunFolder

    out = tmp_path / "run"

    def fitted(cfg, ckpt_path=None, before_fit=None):
        before_fit()
        return SimpleNamespace(trainer=SimpleNamespace(is_global_zero=True))

    finish = RunFolder.finish

    def finish_then_terminated(self, status, error=None):
        finish(self, status, error)
        os.kill(os.getpid(), signal.SIGTERM)  # held until the run knows it is complete

    monkeypatch.setattr(fit, "fit", fitted)
    monkeypatch.setattr(fit, "write_run", lambda run, out_dir: {})
    monkeypatch.setattr(RunFolder, "finish", finish_then_terminated)
    monkeypatch.setattr(jobs, "_draw_learning_curves", lambda cfg, out_dir: None)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt("theirs")))
    try:
        with pytest.raises(KeyboardInterrupt, match="^theirs$"):  # the caller's handler, given back, not the hint
            jobs.train(compose_config(["data=sample"], out))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert run_record(out)["status"] == "completed"


def _files(folder):
    """Every file of an evaluation's folder but its log (each job appends to it), by name."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()} | {
        "evaluate.log": None
    }


@pytest.mark.slow
def test_an_evaluation_that_fails_or_is_interrupted_while_drawing_leaves_the_earlier_one_whole(
    tiny_model_file, tmp_path, capsys, monkeypatch
):
    """metrics.json, report.md and the figures of a folder are one evaluation's, beside its ``.hydra/`` record."""
    from slotfill.cli.main import main
    from slotfill.evaluation import plots

    run = tmp_path / "ev"
    args = [f"ckpt={tiny_model_file}", "data=sample", f"hydra.run.dir={run}"]
    assert main(["evaluate", *args]) == 0
    assert (run / "reliability.png").is_file()
    earlier = _files(run)

    def half_drawn(result, out_dir, top_k):
        (out_dir / "per_slot_f1.png").write_bytes(b"half a figure")
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(plots, "evaluation_figures", half_drawn)
        with pytest.raises(SystemExit) as e:
            main(["evaluate", *args, "split=valid"])
    assert e.value.code == 130 and _files(run) == earlier
    (run / "reliability.svg").unlink()
    (run / "reliability.svg").mkdir()  # a figure's name that cannot be written
    earlier = _files(run)
    with pytest.raises(SystemExit) as e:
        main(["evaluate", *args, "split=valid"])
    assert e.value.code == 2 and "reliability.svg: a folder is in the way of a file" in capsys.readouterr().err
    assert _files(run) == earlier and not list(run.glob(".evaluation-*"))
    (run / "reliability.svg").rmdir()
    assert main(["evaluate", *args, "split=valid", "plots=false"]) == 0  # then its own files, and none of the figures
    assert (
        '"valid"' in (run / "metrics.json").read_text() and "split=valid" in (run / ".hydra/overrides.yaml").read_text()
    )
    assert (
        not list(run.glob("*.png"))
        and not list(run.glob(".evaluation-*"))
        and not (run / ".earlier_run_record").exists()
    )


@pytest.mark.slow
def test_evaluate_warns_of_unknown_intents_and_prints_no_slot_f1_for_a_set_without_slots(
    tiny_model_file, tmp_path, capsys, monkeypatch
):
    load = jobs.load_tagger

    def tagging_no_slots(cfg):  # the untrained tiny model tags slots at random
        tagger = load(cfg)
        predict = tagger.predict_tokens
        tagger.predict_tokens = lambda tokens, batch_size: [
            {**r, "tags": ["O"] * len(r["tags"]), "spans": []} for r in predict(tokens, batch_size=batch_size)
        ]
        return tagger

    monkeypatch.setattr(jobs, "load_tagger", tagging_no_slots)
    d = write_split(tmp_path / "other", "test", "to boston\nleave taipei\n", "O O\nO O\n", "atis_flight\nflight\n")
    metrics = jobs.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}"], tmp_path / "o"))
    out, err = capsys.readouterr()
    assert not err.strip()  # half the gold intents known: no warning
    assert metrics["calibration"]["span"]["ece"] is None and metrics["calibration"]["intent"]["n"] == 2
    assert (tmp_path / "o" / "reliability.png").is_file()  # the intents' panel alone: no ECE of no spans
    assert f"{d}: slot F1 n/a (no gold or predicted slots)  sentence acc " in out and "slot F1 0.00" not in out
    assert metrics["slot_scores_defined"] is False and metrics["scores"]["test"]["f1"] == 0.0
    assert metrics["unseen_labels"] == {"slots": [], "intents": ["atis_flight"]}
    d = write_split(tmp_path / "renamed", "test", "to boston\n", "O B-to\n", "atis_flight\n")
    jobs.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}", "plots=false"], tmp_path / "o2"))
    out, err = capsys.readouterr()
    assert err.strip() == (
        "warning: the model knows 0 of the 1 intent labels in this data (0% of gold intents): intent accuracy "
        "will be near zero; was it trained on another data set?"
    )
    assert "slot F1 n/a" not in out


def test_a_ctrl_c_held_while_a_move_fails_still_ends_the_command_as_ctrl_c_and_says_the_failure(capsys):
    import signal

    with pytest.raises(KeyboardInterrupt):  # not the move's error alone: exit 130, as the user asked
        with jobs._interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
            raise SlotfillError("out: cannot write (No space left on device)")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert capsys.readouterr().err == "error: out: cannot write (No space left on device)\n"


def test_a_ctrl_c_while_an_evaluation_moves_its_files_in_waits_until_they_are_in():
    import signal

    moved = []
    with pytest.raises(KeyboardInterrupt):
        with jobs._interrupts_deferred():
            signal.raise_signal(signal.SIGINT)  # from any thread: Python runs its handler in the main one
            moved.append("metrics.json")
    assert moved == ["metrics.json"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
