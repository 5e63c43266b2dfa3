"""commands.py: the Hydra subcommands (help in process; runs are in test_install, test_scripts, test_front_door)."""

import pytest

from slotfill.cli import commands
from slotfill.cli.commands import COMMANDS
from slotfill.cli.main import main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_its_own_short_help(name, capsys):
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: slotfill {name}")
    assert ("ckpt=" in out) == (name != "train")
    assert len(out.splitlines()) < 20 and "== Config groups ==" not in out  # not Hydra's generic listing


def test_train_help_lists_the_data_sets(capsys):
    main(["train", "-h"])
    assert "sample" in capsys.readouterr().out


def test_top_level_help_and_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and all(name in out for name in [*COMMANDS, "convert", "data"])
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("slotfill 0.")


@pytest.mark.slow
def test_predict_runs_through_hydra(tiny_model_file, capsys):
    assert main(["predict", f"ckpt={tiny_model_file}", "format=jsonl", "to boston, please"]) == 0
    assert '"tokens": ["to", "boston", ",", "please"]' in capsys.readouterr().out


@pytest.mark.slow
def test_export_writes_the_graph_and_a_model_card(tiny_model_file, capsys):
    assert main(["export", f"ckpt={tiny_model_file}", "int8=false"]) == 0
    folder = tiny_model_file.parent
    assert (folder / "model.onnx").is_file() and (folder / "model.onnx.json").is_file()
    assert "data set: tiny" in (folder / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize(
    "name, argv, single",
    [
        ("predict", ["ckpt=m.pt", "hello"], True),
        ("evaluate", ["ckpt=m.pt"], True),
        ("predict", ["-m", "ckpt=a.pt,b.pt"], False),
        ("evaluate", ["--multirun", "ckpt=a.pt,b.pt"], False),
        ("predict", ["hydra.mode=MULTIRUN"], False),
        ("predict", ["++hydra.mode=MULTIRUN"], False),
        ("train", ["seed=1"], False),  # a training config may sweep by itself (hydra.mode: MULTIRUN)
        ("predict", ["-cn", "mine", "hello"], False),  # another primary config may set hydra.mode
        ("evaluate", ["--config-dir=/my/conf"], False),
    ],
)
def test_a_single_run_is_known_from_its_arguments(name, argv, single):
    assert commands.one_run(name, argv) is single


def test_a_single_run_skips_hydras_extra_composition_and_a_sweep_keeps_it(tiny_model_file, monkeypatch, capsys):
    """Hydra composed the whole config once more only to read hydra.mode (~0.1 s of a cold predict)."""
    from hydra._internal.hydra import Hydra

    asked, real = [], Hydra.get_mode

    def counted(self, *args, **kwargs):
        asked.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Hydra, "get_mode", counted)
    assert main(["predict", f"ckpt={tiny_model_file}", "format=jsonl", "flights to boston"]) == 0
    assert asked == [] and '"text": "flights to boston"' in capsys.readouterr().out
    assert Hydra.get_mode is counted  # put back after the run
    monkeypatch.setattr(commands, "one_run", lambda name, argv: False)
    assert main(["predict", f"ckpt={tiny_model_file}", "format=jsonl", "flights to boston"]) == 0
    assert asked == [1]


@pytest.mark.slow
def test_a_command_run_from_python_gives_back_the_loggers_it_set(tiny_model_file, tmp_path):
    """Hydra's job logging left its file handler on the root logger: a caller's later logs went into that
    run's log, and failed once the run's folder was removed."""
    import logging

    root = logging.getLogger()
    before = list(root.handlers), root.level
    args = [f"ckpt={tiny_model_file}", "data=sample", "plots=false", f"hydra.run.dir={tmp_path / 'ev'}"]
    assert main(["evaluate", *args]) == 0
    assert (tmp_path / "ev" / "evaluate.log").is_file()  # the run had its own log file
    assert (list(root.handlers), root.level) == before
