"""compare.py: the settings that differ between runs, and their scores."""

import json

import pytest

from slotfill.errors import SlotfillError
from slotfill.evaluation.compare import compare, differing, flatten, load_run, to_csv, to_markdown


def make_run(root, name, hidden=128, lr=0.002, f1=90.0, hydra=True, intent=None):
    d = root / name
    d.mkdir(parents=True)
    valid = {"f1": f1, **({"intent_accuracy": intent} if intent is not None else {})}
    metrics = {
        "kind": "train",
        "dataset": "atis",
        "model": {"cell": "lstm", "hidden_size": hidden},
        "train": {"word_dropout": 0.0},
        "seed": 1,
        "epochs": 3,
        "best_val_score": f1,
        "scores": {"valid": valid, "test": {"f1": f1 - 1, "sentence_accuracy": 80.0}},
    }
    (d / "metrics.json").write_text(json.dumps(metrics))
    if hydra:
        (d / ".hydra").mkdir()
        (d / ".hydra" / "config.yaml").write_text(
            f"optimizer:\n  lr: {lr}\nmodel:\n  hidden_size: {hidden}\noutput_dir: ${{hydra:runtime.output_dir}}\n"
        )
    return d


def test_flatten_dots_nested_keys():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {"a.b": 1, "a.c.d": [1, 2], "e": None}


def test_table_shows_only_what_differs_and_the_scores(tmp_path):
    a = make_run(tmp_path, "a", hidden=64, f1=91.234)
    b = make_run(tmp_path, "b", hidden=128, lr=0.01, f1=92.0)
    columns, rows = compare([a, b])
    assert columns[:3] == ["run", "model.hidden_size", "optimizer.lr"]
    assert "valid F1" in columns and "test sentence" in columns and "valid intent" not in columns
    assert "output_dir" not in columns and "model.cell" not in columns
    assert rows[0][:3] == ["a", 64, 0.002]
    md = to_markdown(columns, rows)
    assert "| a | 64 | 0.002 | 91.23 |" in md
    assert to_csv(columns, rows).splitlines()[1].startswith("a,64,0.002,91.234")


def test_runs_without_hydra_config_compare_on_the_model_record(tmp_path):
    a = make_run(tmp_path, "x/run", hidden=8, hydra=False)
    b = make_run(tmp_path, "y/run", hidden=16, hydra=False, intent=95.0)
    columns, rows = compare([a, b])
    assert columns[:2] == ["run", "model.hidden_size"] and [r[0] for r in rows] == ["x/run", "y/run"]
    assert rows[0][columns.index("valid intent")] is None and rows[1][columns.index("valid intent")] == 95.0
    assert differing([load_run(a), load_run(a)]) == []


def test_a_folder_without_metrics_is_a_clear_error(tmp_path):
    with pytest.raises(SlotfillError, match="no metrics.json"):
        load_run(tmp_path)


def test_a_setting_only_one_kind_of_folder_has_is_no_difference(tmp_path):
    a = make_run(tmp_path, "a", hidden=128)
    b = make_run(tmp_path, "b", hidden=256)
    e = make_run(tmp_path, "e", hidden=128, hydra=False)  # an evaluation folder: no callbacks, logger, ...
    metrics = json.loads((e / "metrics.json").read_text())
    (e / "metrics.json").write_text(json.dumps({**metrics, "kind": "evaluate"}))
    for run in (a, b):
        (run / ".hydra" / "config.yaml").write_text(
            (run / ".hydra" / "config.yaml").read_text() + "logger:\n  csv:\n    name: logs\n"
        )
    keys = differing([load_run(a), load_run(b), load_run(e)])
    assert keys == ["model.hidden_size"]  # not logger.csv.name nor optimizer.lr, which only training folders have
    c = make_run(tmp_path, "c", hidden=128)  # a training folder without the logger: that is a difference
    assert "logger.csv.name" in differing([load_run(a), load_run(c)])


def test_an_evaluation_folder_shows_its_models_seed_not_evaluates_own(tmp_path):
    a = make_run(tmp_path, "a")  # trained with seed 1
    e = make_run(tmp_path, "e")
    metrics = json.loads((e / "metrics.json").read_text())
    (e / "metrics.json").write_text(json.dumps({**metrics, "kind": "evaluate"}))
    (e / ".hydra" / "config.yaml").write_text("seed: 0\n")  # evaluate's own config value
    assert load_run(e)["settings"]["seed"] == 1 and "seed" not in differing([load_run(a), load_run(e)])
    del metrics["seed"]  # a model that does not know its seed: no seed at all, rather than evaluate's
    (e / "metrics.json").write_text(json.dumps({**metrics, "kind": "evaluate"}))
    assert "seed" not in load_run(e)["settings"]


@pytest.mark.parametrize("content", ["[]", '{"scores": []}', '{"scores": {"valid": [1]}}'])
def test_a_metrics_file_of_another_shape_is_one_line(tmp_path, content):
    (tmp_path / "metrics.json").write_text(content)
    with pytest.raises(SlotfillError, match="metrics.json: not a slotfill metrics file"):
        load_run(tmp_path)


@pytest.mark.parametrize("value", ['"abc"', "true", "[1]"])
def test_a_score_that_is_not_a_number_is_one_line(tmp_path, value):
    (tmp_path / "metrics.json").write_text(f'{{"scores": {{"test": {{"f1": {value}}}}}}}')
    with pytest.raises(SlotfillError, match=r"metrics.json: scores.test.f1 = .*: not a number"):
        load_run(tmp_path)


def test_an_evaluation_is_named_by_the_data_it_scored_not_the_models_training_set(tmp_path):
    (tmp_path / "metrics.json").write_text(
        json.dumps({"kind": "evaluate", "dataset": "atis", "data": "sample", "scores": {"test": {"f1": 98.7}}})
    )
    assert load_run(tmp_path)["settings"]["dataset"] == "sample"


def test_the_scores_of_every_split_evaluated_are_columns_train_valid_test_then_others(tmp_path):
    a = make_run(tmp_path, "a")
    e = tmp_path / "e"  # an evaluation on split=train
    e.mkdir()
    (e / "metrics.json").write_text(json.dumps({"kind": "evaluate", "scores": {"train": {"f1": 99.5}}}))
    columns, rows = compare([e])
    assert columns == ["run", "train F1"] and rows == [["e", 99.5]]
    x = make_run(tmp_path, "x")
    metrics = json.loads((x / "metrics.json").read_text())
    metrics["scores"] = {"zz": {"f1": 1.0}, "dev2": {"intent_accuracy": 2.0}, **metrics["scores"]}
    (x / "metrics.json").write_text(json.dumps(metrics))
    scores = [c for c in compare([x, e, a])[0] if c.split()[0] in ("train", "valid", "test", "dev2", "zz")]
    assert scores == [
        "train F1",
        "valid F1",
        "test F1",
        "test sentence",
        "dev2 intent",
        "zz F1",
    ]


@pytest.mark.parametrize(
    "content, problem",
    [
        ("a: [1, 2\n", r"unreadable \(line 2: expected ',' or '\]'"),
        ("", r"unreadable \(not a mapping of settings\)"),
        ("- 1\n- 2\n", r"unreadable \(not a mapping of settings\)"),
    ],
)
def test_a_corrupt_or_empty_hydra_config_is_one_line_naming_it(tmp_path, content, problem):
    run = make_run(tmp_path, "a")
    (run / ".hydra" / "config.yaml").write_text(content)
    with pytest.raises(SlotfillError, match=r"a/\.hydra/config\.yaml: " + problem) as e:
        compare([run, make_run(tmp_path, "b")])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "status, message",
    [
        ("running", r"the run has not finished \(run.json: status running\)"),
        ("failed", r"the run did not finish \(run.json: status failed\)"),
        ("interrupted", r"the run did not finish \(run.json: status interrupted\)"),
        ("completed", r"a completed run's folder without metrics.json"),
    ],
)
def test_a_run_folder_without_metrics_says_how_its_run_went(tmp_path, status, message):
    (tmp_path / "run.json").write_text(json.dumps({"status": status}))
    with pytest.raises(SlotfillError, match=f"{tmp_path}: {message}"):
        load_run(tmp_path)


def test_a_path_that_does_not_exist_is_no_such_folder(tmp_path):
    with pytest.raises(SlotfillError, match=f"^{tmp_path / 'nope'}: no such folder$"):
        load_run(tmp_path / "nope")


def test_a_folder_whose_new_job_has_not_finished_shows_the_earlier_runs_settings(tmp_path):
    """A job killed after Hydra wrote its ``.hydra/`` leaves the earlier run's record set aside:
    that record, not the killed job's, goes with the folder's scores."""
    from slotfill.core.schema import EARLIER_RECORD

    a, b = make_run(tmp_path, "a", lr=0.001), make_run(tmp_path, "b", lr=0.002)
    (a / EARLIER_RECORD).mkdir()
    (a / ".hydra").rename(a / EARLIER_RECORD / ".hydra")
    (a / ".hydra").mkdir()
    (a / ".hydra" / "config.yaml").write_text("optimizer:\n  lr: 0.5\n")  # the killed job's
    columns, rows = compare([a, b])
    assert [row[columns.index("optimizer.lr")] for row in rows] == [0.001, 0.002]


def test_trainer_settings_the_config_lists_since_are_no_difference_at_their_defaults(tmp_path):
    """A run from before trainer.num_nodes entered the config showed it as a changed setting (blank against 1)."""
    old, new = make_run(tmp_path, "old"), make_run(tmp_path, "new")
    config = new / ".hydra" / "config.yaml"
    config.write_text(config.read_text() + "trainer:\n  num_nodes: 1\n  val_check_interval: 1.0\n")
    (old / ".hydra" / "config.yaml").write_text(config.read_text().replace("trainer:\n", "trainer:\n  devices: 1\n"))
    config.write_text(config.read_text().replace("trainer:\n", "trainer:\n  devices: 1\n"))
    columns, _ = compare([old, new])
    assert not [c for c in columns if c.startswith("trainer.")]


def test_slot_scores_of_an_evaluation_without_slots_are_blank_not_zero(tmp_path):
    run = make_run(tmp_path, "noslot", f1=0.0)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "slot_scores_defined": False}))
    columns, rows = compare([make_run(tmp_path, "other"), run])
    assert rows[1][columns.index("valid F1")] is None and rows[0][columns.index("valid F1")] == 90.0
