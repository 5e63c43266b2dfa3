"""bench/accuracy.py: run folders are named by every override, and each table plans the runs it shows."""

import argparse
import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import accuracy  # noqa: E402


def _plan(tables, seeds=2, datasets=("atis",)):
    args = argparse.Namespace(
        seeds=seeds, ablation_seeds=seeds, ablation_rows=None, datasets=list(datasets), tables=tables
    )
    return accuracy.plan(args)


def test_slug_keeps_each_key_and_its_dotted_value():
    assert accuracy._slug(["train.lexicon_dropout=0.25", "train.lexicon_dropout=0.5"]) == (
        "lexicon_dropout0.25-lexicon_dropout0.5"
    )
    assert accuracy._slug(["monitor=val/joint_mean3", "data=snips"]) == "monitorvaljoint_mean3-datasnips"


def test_tuning_tables_name_distinct_runs_and_end_with_what_users_run():
    for table, last in (("default-tuning", None), ("preset-tuning", "atis-preset-seed1")):
        rows = _plan([table])[table]
        names = [name for runs in rows.values() for name, _ in runs]
        assert len(names) == len(set(names)) == 2 * len(rows)
        assert last is None or last in names  # the unchanged preset is one of the rows, under its usual name
    # the default's slot features were tuned slots-only: every row pins that, none is the joint default's run
    rows = _plan(["default-tuning"])["default-tuning"]
    assert rows["atis: lexicon dropout 0.25 (the default's)"] == [
        ("atis-default-intentfalse-monitorvalf1-seed1", ["seed=1", "model.intent=false", "monitor=val/f1"]),
        ("atis-default-intentfalse-monitorvalf1-seed2", ["seed=2", "model.intent=false", "monitor=val/f1"]),
    ]
    assert all("atis-default-seed1" not in [n for n, _ in runs] for runs in rows.values())


@pytest.mark.slow
def test_preset_tuning_rows_pin_what_they_vary_from_todays_preset():
    from hydra import compose, initialize_config_dir

    rows = _plan(["preset-tuning"], datasets=["atis", "snips"])["preset-tuning"]
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        for ds in ("atis", "snips"):
            preset = [runs for label, runs in rows.items() if label.startswith(f"experiment={ds} (")]
            before = [
                runs for label, runs in rows.items() if label == f"experiment={ds} without lexicons (the preset before)"
            ]
            assert [name for name, _ in preset[0]] == [f"{ds}-preset-seed1", f"{ds}-preset-seed2"]
            with_lists = compose("train", overrides=preset[0][0][1])
            without = compose("train", overrides=before[0][0][1])
            assert with_lists.model.lexicons and with_lists.train.mention_swap > 0  # today's presets have lexicons
            assert not without.model.lexicons and without.train.lexicon_dropout == without.train.mention_swap == 0
            assert before[0][0][0] == f"{ds}-preset-lexiconsnull-lexicon_dropout0-mention_swap0-seed1"


def test_every_table_has_a_section_per_dataset_named_by_its_runs_overrides():
    tables = _plan(["presets", "as-users-run", "default"], seeds=1, datasets=("atis", "snips"))
    found = {label: accuracy.dataset_of(runs) for rows in tables.values() for label, runs in rows.items()}
    assert {label for label, ds in found.items() if ds == "snips"} == {
        "experiment=snips",
        "snips: python train.py data=snips",
        "python train.py experiment=snips",
    }
    assert len(found) == 6


def test_a_section_written_again_keeps_the_others(tmp_path):
    results = tmp_path / "accuracy.md"
    results.write_text("# Accuracy benchmark\n\n## Presets, ATIS\n\nold\n\n## Presets, SNIPS\n\nkept\n")
    text = accuracy.merge_sections(results, {"Presets, ATIS": "new\n"})
    assert text == "# Accuracy benchmark\n\n## Presets, ATIS\n\nnew\n\n## Presets, SNIPS\n\nkept\n"


def test_rows_say_the_precision_their_runs_trained_in():
    run = {"scores": {"test": {}, "valid": {}}, "train_time_s": 1.0, "train": {"precision": "bf16"}}
    assert accuracy.row("x", [run, {**run, "train": {"precision": "fp32"}}]).startswith("| x | 2 | bf16, fp32 | ")


def test_report_only_never_writes_a_row_of_no_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(accuracy, "RESULTS", tmp_path)
    monkeypatch.setattr(accuracy, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(sys, "argv", ["accuracy.py", "--tables", "presets", "--datasets", "atis", "--report-only"])
    with pytest.raises(SystemExit, match=r"no finished run of today's config for 1 row\(s\) \(experiment=atis\)"):
        accuracy.main()
    assert not list(tmp_path.glob("accuracy.*"))
