"""bench/accuracy.py: run folders are named by every override, and each table plans the runs it shows."""

import argparse
import sys

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
    assert accuracy._slug(["model.lexicons={city:data/lexicons/city.txt,state:s.txt}"]) == "lexiconscity_state"


def test_tuning_tables_name_distinct_runs_and_end_with_what_users_run():
    for table, default in (("default-tuning", "atis-default-seed1"), ("preset-tuning", "atis-preset-seed1")):
        rows = _plan([table])[table]
        names = [name for runs in rows.values() for name, _ in runs]
        assert len(names) == len(set(names)) == 2 * len(rows)
        assert default in names  # the unchanged default or preset is one of the rows, under its usual name
    rows = _plan(["default-tuning"])["default-tuning"]
    assert rows["atis: lexicon dropout 0.25 (default)"] == [
        ("atis-default-seed1", ["seed=1"]),
        ("atis-default-seed2", ["seed=2"]),
    ]


def test_snips_preset_tuning_tries_the_default_models_lexicon_settings():
    from omegaconf import OmegaConf

    rows = _plan(["preset-tuning"], datasets=["snips"])["preset-tuning"]
    assert len(rows) == 2
    assert rows["experiment=snips"] == [
        ("snips-preset-seed1", ["experiment=snips", "seed=1"]),
        ("snips-preset-seed2", ["experiment=snips", "seed=2"]),
    ]
    (label,) = [label for label in rows if label != "experiment=snips"]
    name, overrides = rows[label][0]
    assert name.startswith("snips-preset-lexicons") and name.endswith("-seed1")
    default = OmegaConf.load(ROOT / "conf" / "train.yaml").train
    assert f"train.lexicon_dropout={default.lexicon_dropout}" in overrides
    assert f"train.mention_swap={default.mention_swap}" in overrides
    lists = OmegaConf.load(ROOT / "conf" / "model" / "bilstm.yaml").lexicons
    (given,) = [o for o in overrides if o.startswith("model.lexicons=")]
    assert all(f"{kind}:{path}" in given for kind, path in lists.items())
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        composed = compose("train", overrides=overrides)
    assert composed.model.lexicons == lists and composed.model.word_dim == 300  # the preset, with the lists
