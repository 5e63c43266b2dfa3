"""cli/main.py: `slotfill convert` and `slotfill data check` in process; `python -m slotfill` in one subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slotfill.cli.main import main
from tests.conftest import write_split
from tests.helpers import ROOT
from tests.test_compare import make_run
from tests.test_plots import _run


def test_convert_command(tmp_path, sample_dir, capsys):
    assert main(["convert", str(sample_dir), str(tmp_path / "c"), "--to", "conll", "--scheme", "bioes"]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "c" / "train.conll").exists()


@pytest.mark.slow
def test_data_check_on_a_path_and_on_files(tmp_path, sample_dir, capsys):
    assert main(["data", "check", f"data.path={sample_dir}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("data check: sample") and "sentences" in out and "0 errors" in out
    main(["convert", str(sample_dir), str(tmp_path / "j"), "--to", "jsonl"])
    capsys.readouterr()
    code = main(["data", "check", f"data.train={tmp_path / 'j' / 'train.jsonl'}", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["name"] == "j" and set(report["splits"]) == {"train", "valid"}  # valid carved


@pytest.mark.slow
def test_data_check_exit_status(tmp_path, capsys):
    bad = tmp_path / "bad"
    for split in ("train", "valid", "test"):
        write_split(bad, split, "a b\nc d\n", "O O\nO O\n", None)
    assert main(["data", "check", f"data.path={bad}"]) == 1  # no slots at all: an error
    assert "error: train has no slots" in capsys.readouterr().out
    write_split(bad, "train", "a b\nc d\n", "O B-x\nO O\n", None)
    assert main(["data", "check", f"data.path={bad}"]) == 0  # warnings only
    assert main(["data", "check", f"data.path={bad}", "--strict"]) == 1


@pytest.mark.slow
def test_user_errors_are_one_line(tmp_path, capsys):
    write_split(tmp_path, "train", "a b\n", "O\n", None)
    with pytest.raises(SystemExit) as e:
        main(["data", "check", f"data.path={tmp_path}"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "seq.out:1: 1 tags for 2 tokens" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as e:
        main(["data", "check", "trainer.max_epochs=3"])
    assert e.value.code == 2 and "expected data settings" in capsys.readouterr().err


def test_data_check_takes_a_deletion_as_train_does(sample_dir):
    assert main(["data", "check", f"data.path={sample_dir}", "~data.min_freq"]) == 0


@pytest.mark.parametrize(
    "args, said",
    [
        (["data.pth=x"], "error: unknown setting data.pth (did you mean data.path? slotfill train --help"),
        (["data.formt=conll"], "error: unknown setting data.formt (did you mean data.format?"),
        (["SAMPLE"], "settings are key=value (give data.path="),
        (["nonsense"], "error: nonsense: settings are key=value (data=NAME, data.path=..., data.train=...)"),
    ],
)
def test_data_check_words_typos_and_bare_paths_as_train_does(args, said, sample_dir, capsys):
    with pytest.raises(SystemExit) as e:
        main(["data", "check", *(str(sample_dir) if a == "SAMPLE" else a for a in args)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and said in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_python_dash_m_from_a_checkout(tmp_path, sample_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "convert", str(sample_dir), str(tmp_path / "r"), "--to", "rasa"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "train.yml").read_text().startswith('version: "3.1"\nnlu:\n- intent: "atis_flight"')
    proc = subprocess.run([sys.executable, "-m", "slotfill", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "convert" in proc.stdout and "data" in proc.stdout


@pytest.mark.slow
def test_offline_without_a_local_copy_is_one_line(tmp_path):
    import os

    from tests.helpers import one_line_error

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env["SLOTFILL_DATA_DIR"] = str(tmp_path / "none")
    proc = subprocess.run(
        # a benchmark no folder holds (../shared/data is found from any folder, beside the checkout too)
        [sys.executable, "-m", "slotfill", "data", "check", "data=snips", "data.benchmark=snips_elsewhere"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    one_line_error(proc, "snips_elsewhere: no local copy")
    assert "offline" in proc.stderr and "data.path=" in proc.stderr and "SLOTFILL_DATA_DIR" in proc.stderr


def test_compare_prints_one_table_and_writes_csv(tmp_path, capsys):
    a, b = make_run(tmp_path, "a", hidden=8), make_run(tmp_path, "b", hidden=16)
    assert main(["compare", str(a), str(b), "--csv", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "| run | model.hidden_size |" in out and "| b | 16 |" in out
    assert (tmp_path / "t.csv").read_text().startswith("run,model.hidden_size")


@pytest.mark.parametrize("target", ["a/metrics.json", "a/model.pt", "b/new.csv", "a", "elsewhere"])
def test_compare_refuses_a_csv_in_a_run_folder_or_a_folder_before_the_table(tmp_path, capsys, target):
    a, b = make_run(tmp_path, "a", hidden=8), make_run(tmp_path, "b", hidden=16)
    (a / "model.pt").write_bytes(b"weights")
    (tmp_path / "elsewhere").mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as e:
        main(["compare", str(a), str(b), "--csv", str(tmp_path / target)])
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and f"--csv {tmp_path / target}: " in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_plot_writes_learning_curves_of_several_runs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a, b = _run(tmp_path, "a", [10, 20]), _run(tmp_path, "b", [15, 30])
    assert main(["plot", str(a), str(b), "-o", str(tmp_path / "lc"), "--labels", "small", "big"]) == 0
    assert (tmp_path / "lc.png").stat().st_size > 1000 and "<!-- big -->" in (tmp_path / "lc.svg").read_text()
    assert "wrote" in capsys.readouterr().out


def test_plot_of_several_runs_into_one_of_their_folders_is_refused(tmp_path, capsys):
    """``plot ra rb -o ra`` replaced run ra's own learning_curves.png with a figure of two runs."""
    a, b = _run(tmp_path, "a", [10, 20]), _run(tmp_path, "b", [15, 30])
    for output in (a, a / "curves"):
        with pytest.raises(SystemExit) as e:
            main(["plot", str(a), str(b), "-o", str(output)])
        assert e.value.code == 2 and f"inside the run folder {a}" in capsys.readouterr().err
    assert not list(a.glob("*.png"))


def test_errors_are_one_line_with_status_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "compare", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {tmp_path}: not a run folder (no metrics.json)"
    proc = subprocess.run([sys.executable, "-m", "slotfill", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "compare" in proc.stdout and "plot" in proc.stdout


@pytest.mark.slow
def test_plot_and_compare_two_sample_runs(trained_sample, trained_sample_crf, tmp_path):
    runs = [str(Path(r["model_file"]).parent) for r in (trained_sample, trained_sample_crf)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "plot", *runs, "-o", str(tmp_path / "both")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "both.png").stat().st_size > 1000 and (tmp_path / "both.svg").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "compare", *runs, "--csv", str(tmp_path / "t.csv")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    header = proc.stdout.splitlines()[0]
    assert "model.crf" in header and "model.intent_to_slot" in header and "test F1" in header
    assert "model.hidden_size" not in header  # the same in both runs


def test_a_reader_that_closes_the_pipe_is_one_line_naming_standard_output():
    code = (
        "from slotfill.cli.exits import friendly_errors\n"
        "def write():\n"
        "    raise BrokenPipeError(32, 'Broken pipe')  # as print() raises it under | head\n"
        "friendly_errors(write, 'data check')()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "error: <stdout>: write failed (Broken pipe); the output is incomplete\n"


def test_a_new_key_in_a_mapping_given_whole_is_named_with_how_to_add_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "data=sample", "model.lexicons={city:a.txt,airline:b.txt}", f"hydra.run.dir={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.startswith("error: unknown setting model.lexicons.airline (")
    assert err.endswith("+model.lexicons.airline=... adds it)")
