"""One front door: every command gives the same answer as ``slotfill X``, ``python -m slotfill X`` and
``python X.py``. The table runs each case as ``slotfill X`` and as the script (``python -m slotfill X``
where there is no script), in this process, comparing exit status, stderr and stdout; subprocess tests
check the real processes (``tests/test_scripts.py``, ``tests/test_install.py``)."""

from __future__ import annotations

import importlib.util
import runpy
import shutil
import sys

import pytest

from slotfill.cli import commands
from slotfill.cli.main import main
from tests.conftest import write_split
from tests.helpers import ROOT

SCRIPTS = {"train", "predict", "evaluate", "export"}


def run_way(way: str, argv: list[str], monkeypatch) -> int:
    """Run ``argv`` (a command and its arguments) the way ``way`` names; the exit status."""
    if way == "slotfill":  # the console script's target
        try:
            return main(argv)
        except SystemExit as e:
            return int(e.code or 0)
    if way == "python -m slotfill":
        monkeypatch.setattr(sys, "argv", ["slotfill", *argv])
        target = lambda: runpy.run_module("slotfill", run_name="__main__", alter_sys=False)  # noqa: E731
    else:  # python X.py
        monkeypatch.setattr(sys, "argv", [f"{argv[0]}.py", *argv[1:]])
        target = lambda: runpy.run_path(str(ROOT / f"{argv[0]}.py"), run_name="__main__")  # noqa: E731
    try:
        target()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def ways(command: str) -> list[str]:
    """``slotfill X`` and ``python X.py``; ``python -m slotfill X`` for the commands without a script
    (``slotfill.__main__`` calls the same ``main``: ``test_python_dash_m_is_the_same_entry``)."""
    return ["slotfill", "script" if command in SCRIPTS else "python -m slotfill"]


@pytest.fixture
def files(tmp_path, tiny_model_file, request):
    """The paths a case's arguments name: ``{model}``, ``{run}`` (a run folder), ``{eq}`` (``=`` in its name), ..."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_model_file, run / "model.pt")
    eq = run / "checkpoints" / "epoch=09-val_f1=89.63.ckpt"
    eq.parent.mkdir()
    shutil.copy(tiny_model_file, eq)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("fine\ncaf\xe9\n".encode("latin-1"))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    unfinished = tmp_path / "unfinished"  # a run killed before it wrote model.pt
    unfinished.mkdir()
    (unfinished / "run.json").write_text('{"status": "running"}')
    (unfinished / "checkpoints").mkdir()
    (unfinished / "checkpoints" / "last.ckpt").write_bytes(b"an epoch saved")
    bad = tmp_path / "bad"
    for split in ("train", "valid", "test"):
        write_split(bad, split, "a b\n", "O\n", None)
    onnx_only = tmp_path / "onnx_only"  # a torch-free image's folder: the graph and its sidecar alone
    onnx_only.mkdir()
    if "onnx_only" in request.node.name:
        from slotfill.models.onnx_export import export_onnx
        from slotfill.models.slot_model import SlotModel

        export_onnx(SlotModel.load(tiny_model_file), onnx_only / "model.onnx")
    return {
        **{"model": tiny_model_file, "run": run, "eq": eq, "latin1": latin1, "garbage": garbage},
        **{"bad": bad, "tmp": tmp_path, "unfinished": unfinished, "onnx_only": onnx_only},
    }


# (command and arguments, exit status, what the one line on stderr (or stdout for status 0) holds)
CASES = [
    (["predict", "ckpt={model}", "nosuchkey=1", "x"], 2, "unknown setting nosuchkey"),
    (["predict", "ckpt={eq}", "flights to boston"], 0, "flights to boston"),
    (["predict", "ckpt={run}", "flights to boston"], 0, "flights to boston"),
    (["predict", "ckpt={run}", "output=-", "flights to boston"], 0, "flights to boston"),  # - : standard output
    (["predict", "ckpt={model}", "--cfg", "job"], 0, "batch_size:"),
    (["predict", "hello"], 2, "ckpt is required"),
    (["predict", "ckpt=/nope/model.pt", "hello"], 2, "checkpoint not found"),
    (["predict", "ckpt={run}/checkpoints", "hello"], 2, "a folder without model.pt"),
    (["predict", "ckpt={unfinished}", "hello"], 2, "a run folder without model.pt: its run has not finished"),
    (["ensemble", "{unfinished}", "{model}", "-o", "{tmp}/e.pt"], 2, "its run has not finished (resume="),
    (["predict", "ckpt={model}"], 2, "nothing to tag"),
    (["predict", "ckpt={model}", "input={latin1}"], 2, "latin1.txt:2: not valid UTF-8"),
    (["predict", "ckpt={model}", "input=/nope.txt"], 2, "/nope.txt: file not found"),
    (["predict", "ckpt={model}", "format=xml", "hi"], 2, "format=xml"),
    (["predict", "ckpt={garbage}", "hi"], 2, "not a readable checkpoint"),
    (["predict", "ckpt={model}", "batch_size=0", "hi"], 2, "batch_size=0"),
    (["predict", "ckpt={model}", "min_confidence=2", "hi"], 2, "min_confidence=2: a number from 0 to 1"),
    (["predict", "ckpt={model}", "nbest=0", "hi"], 2, "nbest=0"),
    (["predict", "ckpt={model}", "nbest=2", "format=jsonl", "to boston"], 0, '"nbest": [{"tags"'),
    (["predict", "ckpt={model}", "batch_size=[", "hi"], 2, "cannot read batch_size=["),
    (["predict", "ckpt={model}", "threads=abc", "hi"], 2, "threads='abc'"),
    (["predict", "ckpt={model}", "backend=onnx", "hi"], 2, "slotfill export"),
    (["predict", "ckpt={model}", "precision=fp16", "hi"], 2, "precision='fp16': choose one of auto, fp32"),
    (["predict", "ckpt={model}", "precision=int8", "hi"], 2, "precision=int8 needs backend=onnx"),
    (["evaluate", "ckpt={model}", "precision=bf16", "backend=onnx"], 2, "precision=bf16 needs backend=torch"),
    (["predict", "ckpt={model}", "output=/no/such/dir/out.txt", "hi"], 2, "output=/no/such/dir/out.txt"),
    (["shell", "ckpt={model}", "format=xml"], 2, "format=xml: choose one of text, json, jsonl"),
    (["shell", "ckpt=/nope/model.pt"], 2, "checkpoint not found"),
    (["shell", "ckpt={garbage}"], 2, "not a readable checkpoint"),
    (["evaluate", "data=sample"], 2, "ckpt is required"),
    (["evaluate", "ckpt={model}", "batch_size=-1"], 2, "batch_size=-1"),
    (["evaluate", "ckpt={garbage}", "data=sample"], 2, "not a readable checkpoint"),
    (["export", "ckpt={model}", "threads=1"], 2, "unknown setting threads"),
    (["export"], 2, "ckpt is required"),
    (["train", "model=transformer"], 2, "model=transformer: no such model (choose one of bilstm, gru, rnn)"),
    (["train", "data=sampel"], 2, "data=sampel: no such data (did you mean sample? choose one of atis,"),
    (["serve", "ckpt={model}", "prot=8001"], 2, "unknown setting prot (did you mean port?"),
    (["train", "trainer.max_epoch=3"], 2, "unknown setting trainer.max_epoch (did you mean trainer.max_epochs?"),
    (["train", "hydra/sweeper=optuma"], 2, "hydra/sweeper=optuma: no such hydra/sweeper (did you mean optuna?"),
    (["train", "data=atis/"], 2, "data=atis/: no such data (did you mean atis?"),
    (["train", "trainer.max_steps=100"], 2, "did you mean trainer.max_epochs? slotfill train --help"),
    (["train", "trainer.max_steps=100"], 2, "+trainer.max_steps=... adds it)"),
    (["train", "seed=-1", "data=sample"], 2, "seed=-1"),
    (["train", "nosuch=1"], 2, "unknown setting nosuch"),
    (["train", "resume={run}", "seed=3"], 2, "own saved config: drop seed=3"),
    (["train", "data.path=/no/such/dir/atis"], 2, "/no/such/dir/atis"),
    (["train", "data.path={bad}"], 2, "seq.out:1: 1 tags for 2 tokens"),
    (["train", "data=sample", "model.cell=transformer"], 2, "model.cell='transformer'"),
    (["train", "data=sample", "model.dropout=1.5"], 2, "model.dropout=1.5"),
    (["train", "data=sample", "trainer.limit_train_batches=0"], 2, "limit_train_batches=0: nothing would be trained"),
    (["train", "data=sample", "train.warmup_steps=abc"], 2, "train.warmup_steps='abc': must be a whole number"),
    (["train", "data=sample", "model.dropout=abc"], 2, "model.dropout='abc': must be a number"),
    (["train", "data=sample", "trainer.limit_val_batches=0.0"], 2, "limit_val_batches=0.0: validation selects"),
    (["train", "data=sample", "model.intent=false", "monitor=val/intent_accuracy"], 2, "the model has no intent head"),
    (
        ["train", "data=sample", "model.intent=false", "model.intent_to_slot=true"],
        2,
        "model.intent_to_slot=true needs the intent head",
    ),
    (["train", "data=sample", "train.lr_decay=sine"], 2, "train.lr_decay='sine'"),
    (["train", "data=sample", "train.distill_from=/nope.pt"], 2, "checkpoint not found (train.distill_from="),
    (
        ["train", "data=sample", "model.intent_encoder=detached", "model.co_interaction=true"],
        2,
        "cannot be model.intent_encoder=detached",
    ),
    (["train", "data=sample", "+model.nonsense=1"], 2, "model.nonsense"),
    (
        [
            "train",
            "data=sample",
            "optimizer.lr=1e30",
            "trainer.gradient_clip_val=null",
            "trainer.max_epochs=3",
            "threads=1",
        ],
        2,
        "training diverged: the loss is nan at step",
    ),
    (["evaluate", "ckpt=/nope.pt", "data=sample"], 2, "checkpoint not found"),
    (["predict", "ckpt={model}", "--foo", "x"], 2, "unknown option --foo: settings are key=value"),
    (["evaluate", "ckpt={model}", "data=sample", "plots=maybe"], 2, "plots='maybe': true or false"),
    (["evaluate", "ckpt={model}", "data=sample", "top_k=0"], 2, "top_k=0"),
    (["train", "data=sample", "plots=1"], 2, "plots=1: true or false"),
    (["export", "ckpt={model}", "opset=3", "output={tmp}/exp/m.onnx"], 2, "opset=3: must be a whole number from 11"),
    (["export", "ckpt={model}", "opset=21"], 2, "opset=21: must be a whole number from 11 to 20"),
    (["export", "ckpt={model}", "int8=maybe"], 2, "int8='maybe': true or false"),
    (["export", "ckpt={model}", "check='false'"], 2, "check='false': true or false (unquoted)"),
    (["predict", "ckpt={model}", "--cfg", "job", "--reso"], 0, "batch_size:"),  # --resolve, abbreviated
    # a value flag without its value took the next word (an override slotfill adds) and ran the job
    (["export", "ckpt={model}", "--package"], 2, "--package goes with --cfg (it prints the config, it runs"),
    (["predict", "ckpt={model}", "--cfg", "jobb", "hi"], 2, "--cfg jobb: choose one of job, hydra, all"),
    (["predict", "ckpt={model}", "--resolve", "hi"], 2, "--resolve goes with --cfg"),
    (["predict", "ckpt={model}", "-m", "--cfg", "job", "hi"], 2, "give one of --run, --multirun, --cfg, --info"),
    (["predict", "--version"], 0, "slotfill 0."),  # slotfill's, not Hydra's
    (["shell", "ckpt={model}", "flights to boston"], 2, "'flights to boston': settings are key=value (shell reads"),
    (["export", "ckpt={model}", "hello"], 2, "'hello': settings are key=value"),
    (["predict", "ckpt={model}", "formt=jsonl", "hi"], 2, "unknown setting formt (did you mean format? slotfill"),
    (["serve", "ckpt={model}", "batching.max_wait=3"], 2, "batching.max_wait (did you mean batching.max_wait_ms?"),
    (["predict", "ckpt={model}", "trainer.max_epochs=3", "hi"], 2, "trainer.max_epochs (slotfill predict --help"),
    (["predict", "ckpt={onnx_only}", "flights to boston"], 0, "flights to boston"),  # a folder of the graph alone
    (["evaluate", "{model}", "data=sample"], 2, "model.pt: settings are key=value: give ckpt="),  # a path, no key
    (["predict", "-m", "ckpt={model}", "nbest=1,2", "hi"], 2, "slotfill predict runs once (a sweep would leave"),
    (["serve", "ckpt={model}", "port=1,2", "--multirun"], 2, "serve would never reach its second run"),
    # a path is read as written, whatever Hydra's grammar makes of , [ ( ' and spaces
    (["predict", "ckpt={tmp}/it's a,b [1] (x)/model.pt", "hi"], 2, "it's a,b [1] (x)/model.pt: checkpoint not found"),
    (["serve", "ckpt={model}", "log_level=loud"], 2, "log_level=loud: choose one of critical"),
    (["serve", "ckpt={model}", "port=-5"], 2, "port"),
    (["serve", "ckpt={model}", "precision=int8"], 2, "precision=int8 needs backend=onnx"),
    (["convert", "data/sample", "{tmp}/converted", "--to", "conll"], 0, "train.conll"),
    (["convert", "{tmp}/nowhere", "{tmp}/out", "--to", "conll"], 2, "nowhere"),
    (["data", "check", "data=sample"], 0, "data check: sample"),
    (["data", "check", "data=nosuch"], 2, "data=nosuch: no such data set (choose one of atis, atis_hub, sample"),
    (["data", "check", "data=sample", "--rare", "-3"], 2, "--rare -3: a number of times, 1 or more"),
    (["data", "check", "data=sample", "--jsn"], 2, "unrecognized arguments: --jsn (slotfill data check --help)"),
    (["convert", "data/sample", "{tmp}/o", "--to", "xml"], 2, "argument --to: invalid choice: 'xml'"),
    (["convert", "data/sample", "{tmp}/o", "--to", "conl"], 2, "--to: invalid choice: 'conl': did you mean 'conll'?"),
    (["trian", "data=sample"], 2, "invalid choice: 'trian': did you mean 'train'?"),
    (["convert", "data/sample", "{tmp}/o", "--to", "conl"], 2, "invalid choice: 'conl': did you mean 'conll'?"),
    (["trian", "data=sample"], 2, "invalid choice: 'trian': did you mean 'train'?"),
    (["--versoin"], 2, "unrecognized option --versoin: did you mean --version?"),  # not "COMMAND is required"
    (["train", "--cfg", "job", "resume={run}"], 2, "continues with its own saved config, not this composition"),
    (["train", "data=sample", "callbacks.early_stopping.patience=abc"], 2, "patience='abc': must be a whole number"),
    (["plot", "{tmp}"], 2, "no epochs logged"),
    (["compare", "{tmp}"], 2, "not a run folder"),
    (["ensemble", "{model}", "-o", "{tmp}/ens.pt"], 2, "an ensemble needs at least 2 models"),
    (["ensemble", "{model}", "/nope.pt", "-o", "{tmp}/ens.pt"], 2, "checkpoint not found"),
    (["ensemble", "{run}", "{run}/model.pt", "-o", "{tmp}/ens.pt"], 2, "model.pt: the same weights as"),
]


@pytest.mark.slow
def test_printing_the_config_of_a_used_run_folder_leaves_it_alone(tiny_model_file, tmp_path, capsys):
    """``--cfg`` and ``--info`` run no job: a run folder that holds a run is not refused, nor touched."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_model_file, run / "model.pt")
    before = sorted(p.name for p in run.iterdir())
    assert main(["train", "--cfg", "job", "data=sample", f"hydra.run.dir={run}"]) == 0
    assert "data:" in capsys.readouterr().out
    assert sorted(p.name for p in run.iterdir()) == before


@pytest.mark.slow
def test_train_output_dir_is_the_run_folder_for_hydras_record_too(tmp_path, monkeypatch):
    """``train output_dir=DIR`` wrote the model there and ``.hydra/`` and ``train.log`` into a dated
    folder of their own; it names the run folder, as ``hydra.run.dir`` does."""
    from slotfill.cli import jobs

    monkeypatch.chdir(tmp_path)
    seen = {}
    monkeypatch.setattr(jobs, "train", lambda cfg: seen.setdefault("output_dir", cfg.output_dir) and {})
    assert main(["train", "data=sample", f"output_dir={tmp_path / 'od'}"]) == 0
    assert seen["output_dir"] == str(tmp_path / "od") and (tmp_path / "od" / ".hydra").is_dir()
    assert not (tmp_path / "outputs").exists()
    with pytest.raises(SystemExit) as e:
        main(["train", "data=sample", f"output_dir={tmp_path / 'od'}", f"hydra.run.dir={tmp_path / 'other'}"])
    assert e.value.code == 2


@pytest.mark.slow
def test_evaluate_output_dir_is_its_folder_for_hydras_record_too(tmp_path, monkeypatch):
    """``evaluate output_dir=DIR`` wrote the scores there and ``.hydra/`` and ``evaluate.log`` under
    outputs/evaluate/DATE/TIME, which a refused evaluation left behind too."""
    from slotfill.cli import jobs

    monkeypatch.chdir(tmp_path)
    seen = {}
    monkeypatch.setattr(jobs, "evaluate", lambda cfg: seen.setdefault("output_dir", cfg.output_dir) and {})
    assert main(["evaluate", "ckpt=m.pt", "data=sample", f"output_dir={tmp_path / 'ev'}"]) == 0
    assert seen["output_dir"] == str(tmp_path / "ev") and (tmp_path / "ev" / ".hydra").is_dir()
    run = tmp_path / "run"  # a training run's folder: refused, and no folder of the evaluation's own left
    run.mkdir()
    (run / "run.json").write_text('{"status": "completed"}')
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "ckpt=m.pt", "data=sample", f"output_dir={run}"])
    assert e.value.code == 2 and not (tmp_path / "outputs").exists()


def _expand(args: list[str], files: dict) -> list[str]:
    return [a.format(**files) for a in args]


def _params(cases: list) -> list:
    """The table as pytest parameters: the rows that compose a training or an evaluation are ``slow``
    (a second each: ``make test`` runs them, ``make test-fast`` keeps the cheap rows)."""
    heavy = ("train", "evaluate")
    return [
        pytest.param(*c, id=" ".join(c[0][:3]), marks=[pytest.mark.slow] if c[0][0] in heavy else []) for c in cases
    ]


@pytest.mark.parametrize("args, status, message", _params(CASES))
def test_every_way_in_gives_the_same_answer(args, status, message, files, tmp_path, monkeypatch, capsys):
    work = tmp_path / "cwd"  # an empty folder: shipped files (data/sample, the configs) must be found anyway
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")  # Hydra's own errors are one line whatever the caller set
    argv = _expand(args, files)
    if args[0] in commands.COMMANDS:
        argv.append(f"hydra.run.dir={tmp_path / 'hydra'}")
    answers = []
    for way in ways(args[0]):
        shutil.rmtree(tmp_path / "converted", ignore_errors=True)
        code = run_way(way, argv, monkeypatch)
        out, err = capsys.readouterr()
        answers.append((code, err.strip(), out if status == 0 else ""))
        assert code == status, (way, code, err[-2000:])
        if status:
            assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (way, err[-2000:])
            assert err.startswith("error: ") and message in err, (way, err)
        else:
            assert message in out, (way, out[-2000:])
    assert len(set(answers)) == 1, answers


def test_a_missing_extra_is_one_line_with_the_install_that_fixes_it(files, tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    for way in ways("export"):
        code = run_way(way, ["export", f"ckpt={files['model']}", f"hydra.run.dir={tmp_path}"], monkeypatch)
        err = capsys.readouterr().err
        assert code == 2 and err.strip() == (
            "error: slotfill export needs onnx, which is not installed: pip install 'slotfill[onnx]'"
        ), (way, err)


def test_an_import_error_of_an_extra_names_its_install(monkeypatch, capsys):
    from slotfill.cli import jobs

    def no_fastapi(cfg):
        raise ModuleNotFoundError("No module named 'fastapi'", name="fastapi")

    monkeypatch.setattr(jobs, "predict", lambda cfg, texts: no_fastapi(cfg))
    assert run_way("slotfill", ["predict", "ckpt=x", "hi"], monkeypatch) == 2
    assert "pip install 'slotfill[serve]'" in capsys.readouterr().err


def test_train_returns_the_sweep_objective(monkeypatch):
    from slotfill.cli import jobs

    monkeypatch.setattr(jobs, "train", lambda cfg: {"best_val_score": 91.5})
    assert commands._task("train", [])(None) == 91.5


def test_the_job_is_named_after_the_command():
    assert commands.hydra_argv("train", ["seed=1"])[1] == ["seed=1", "hydra.job.name=train"]
    texts, argv = commands.hydra_argv("predict", ["ckpt=a=b.pt", "--cfg", "job", "hi, there"])
    assert texts == ["hi, there"] and argv == ["ckpt='a=b.pt'", "hydra.job.name=predict", "--cfg", "job"]


def test_python_dash_m_is_the_same_entry():
    import slotfill.__main__ as dash_m

    assert dash_m.main is main


@pytest.mark.slow
def test_a_sweep_with_output_dir_is_refused_and_evaluate_cfg_prints(tiny_model_file, tmp_path, capsys):
    """``train -m ... output_dir=X`` wrote every job elsewhere, X never made; ``evaluate --cfg`` of a
    training run's folder was refused though nothing would be written."""
    with pytest.raises(SystemExit) as e:
        main(["train", "-m", "data=sample", "seed=1,2", f"output_dir={tmp_path / 'od'}"])
    assert e.value.code == 2 and "a sweep's jobs each have a folder under hydra.sweep.dir" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"status": "completed"}')
    assert main(["evaluate", "--cfg", "job", f"ckpt={tiny_model_file}", f"hydra.run.dir={run}"]) == 0
    assert "ckpt:" in capsys.readouterr().out and sorted(p.name for p in run.iterdir()) == ["run.json"]
