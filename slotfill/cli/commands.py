"""The Hydra-configured subcommands of ``slotfill``: train, predict, evaluate, export, serve, shell.

Each maps onto its config in ``conf/`` (``conf/<name>.yaml``) and one function of
:mod:`slotfill.cli.jobs` (``serve`` onto :mod:`slotfill.serving`, ``shell`` onto
:mod:`slotfill.cli.shell`). :func:`run_command` is the one runner: ``slotfill``, ``python -m
slotfill`` and the checkout's ``train.py`` &c. all arrive here. The configs are found in the
checkout or in the installed package (:func:`slotfill.core.resources.conf_dir`), so the commands
work from any folder.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from slotfill.cli.argv import (
    FOLDER_BEFORE_ENV,
    check_flags,
    extract_texts,
    flags_last,
    is_sweep,
    job_name,
    last_value,
    launcher_argv,
    named_run_dir,
    prints_only,
    quote_paths,
    resume_argv,
    unknown_flags,
)
from slotfill.cli.exits import ctrl_c_interrupts, friendly_errors, user_error
from slotfill.core import collector
from slotfill.core.resources import conf_dir
from slotfill.core.schema import TRAINER_ADDED
from slotfill.errors import ConfigError, SlotfillError
from slotfill.version import __version__

COMMAND_ENV = "SLOTFILL_COMMAND"  # the running command, for the processes Lightning starts for further DDP ranks


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # one line for ``slotfill --help``
    usage: str
    options: tuple[tuple[str, str], ...]  # (setting, what it does) for ``slotfill <name> --help``
    groups: tuple[str, ...] = ()  # config groups whose choices the help lists

    def help(self) -> str:
        width = max(len(k) for k, _ in self.options)
        lines = [f"usage: {self.usage}", "", self.summary, "", "settings (key=value, Hydra override syntax):"]
        lines += [f"  {k.ljust(width)}  {v}" for k, v in self.options]
        conf = conf_dir()
        for group in self.groups:
            choices = sorted(p.stem for p in (conf / group).glob("*.yaml"))
            lines.append(f"  {(group + '=').ljust(width)}  one of {', '.join(choices)}")
        lines += ["", f"Every setting: slotfill {self.name} --cfg job   (Hydra prints the composed config)"]
        return "\n".join(lines) + "\n"


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "train",
            "Train a slot tagger; writes model.pt, metrics.json and reports to outputs/DATE/TIME/.",
            "slotfill train [data=NAME] [model=NAME] [key=value ...]",
            (
                ("data.path=DIR", "your own data set (any format: docs/data.md)"),
                ("trainer.max_epochs=N", "epochs (early stopping on monitor)"),
                ("seed=N", "random seed (42)"),
                ("hydra.run.dir=DIR", "where the run folder goes"),
            ),
            ("data", "model", "experiment"),
        ),
        Command(
            "predict",
            "Tag sentences with a trained model (free text needs no quoting of commas or apostrophes).",
            'slotfill predict ckpt=MODEL.pt ["a sentence" ...] [input=FILE|-] [key=value ...]',
            (
                ("ckpt=PATH", "a run folder, its model.pt or a training .ckpt"),
                ("text=TEXT", "one sentence, taken as typed (also for one that starts with -)"),
                (
                    "input=FILE",
                    "one sentence a line (.jsonl: the text field, .parquet: the text column); - reads standard input",
                ),
                ("format=F", "text | jsonl | conll | seq.out | rasa"),
                ("backend=B", "torch | onnx (model.onnx beside the model)"),
                ("output=FILE", "write there instead of standard output"),
            ),
        ),
        Command(
            "evaluate",
            "Score a model on a labelled split; writes metrics.json, report.md and errors.jsonl.",
            "slotfill evaluate ckpt=MODEL.pt [data=NAME | split_dir=PATH] [split=test] [key=value ...]",
            (
                ("ckpt=PATH", "a run folder, its model.pt or a training .ckpt"),
                ("split=S", "train | valid | test"),
                ("split_dir=PATH", "one labelled split in any format (instead of data=)"),
                ("backend=B", "torch | onnx"),
            ),
            ("data",),
        ),
        Command(
            "export",
            "Export a model to ONNX (model.onnx, its .json sidecar, an int8 copy) and write MODEL_CARD.md.",
            "slotfill export ckpt=MODEL.pt [output=PATH.onnx] [key=value ...]",
            (
                ("ckpt=PATH", "a run folder, its model.pt or a training .ckpt"),
                ("output=PATH", "the graph's path (default: beside the model)"),
                ("int8=BOOL", "also write the int8 graph (true)"),
                ("check=BOOL", "compare ONNX Runtime with PyTorch (true)"),
            ),
        ),
        Command(
            "serve",
            "Serve a model over HTTP: POST /parse (Rasa shape), POST /predict, GET /health, /version, /docs.",
            "slotfill serve ckpt=MODEL.pt [host=127.0.0.1] [port=8000] [workers=1] [key=value ...]",
            (
                ("ckpt=PATH", "a run folder or its model.pt; model.onnx with backend=onnx"),
                ("host=H port=P", "where to listen (127.0.0.1:8000)"),
                ("workers=N", "server processes, each with its own copy of the model (1)"),
                ("backend=B", "torch | onnx (numpy decoding; no torch needed)"),
                ("batching.max_batch=N", "micro-batch size bound (64; 1 turns batching off)"),
                ("batching.max_wait_ms=MS", "how long a request waits for others (2)"),
                ("connections.max_open=N", "connections and requests in progress per worker before 503 (256)"),
                ("connections.request_timeout_s=S", "a request must arrive in full within S seconds, else 408 (10)"),
                ("connections.keep_alive_s=S", "an idle connection between requests is closed after S seconds (5)"),
            ),
        ),
        Command(
            "shell",
            "Type sentences and read their slots and intent at once (cf. rasa shell nlu); Ctrl-D quits.",
            "slotfill shell ckpt=MODEL.pt [format=text|json|jsonl] [key=value ...]",
            (
                ("ckpt=PATH", "a run folder, its model.pt or a training .ckpt"),
                ("format=F", "text (with the next intents) | json (Rasa's /model/parse answer) | jsonl"),
                ("backend=B", "torch | onnx"),
            ),
        ),
    )
}


def _task(name: str, texts: list[str]) -> Callable:
    def task(cfg) -> float | None:
        collector.job_started()  # a sweep's next job: the earlier jobs' garbage is freed first
        if name == "serve":
            from slotfill.serving.server import serve

            serve(cfg)
            return None
        if name == "shell":
            from slotfill.cli.shell import run

            run(cfg)
            return None
        from slotfill.cli import jobs

        if name == "train":  # the monitored validation score of the best epoch: what a sweeper maximises
            return jobs.objective(jobs.train(cfg))
        if name == "predict":
            jobs.predict(cfg, texts)
        else:
            getattr(jobs, name)(cfg)
        return None

    return task


class SweepJobFailed(SlotfillError):
    """A job of a ``-m`` sweep that failed: Hydra runs the sweep's other jobs, then raises the first."""


def _sweep_goes_on(task: Callable, name: str) -> Callable:
    """In a ``-m`` sweep, a job's error (a setting, a diverged run) fails that job, not the sweep: the
    other jobs still run, each finished one joins ``summary.csv``, and the sweep ends with the error."""

    def job(cfg):
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        try:
            return task(cfg)
        except Exception as e:
            message = user_error(e, name)
            if message is None or HydraConfig.get().mode != RunMode.MULTIRUN:
                raise
            hydra = HydraConfig.get()
            said = f"sweep job {hydra.job.num} ({','.join(hydra.overrides.task) or 'no overrides'}): {message}"
            logging.getLogger(__name__).error("%s; the sweep goes on", said)
            raise SweepJobFailed(said) from None

    return job


def hydra_argv(name: str, argv: list[str]) -> tuple[list[str], list[str]]:
    """``(texts, overrides)``: the arguments of ``slotfill <name>`` as Hydra reads them."""
    unknown = unknown_flags(argv)
    if unknown:  # else Hydra's usage of its own flags, many lines
        hint = "; a sentence that starts with - goes as text=..." if name == "predict" else ""
        raise ConfigError(f"unknown option {unknown[0]}: settings are key=value (slotfill {name} --help){hint}")
    try:
        check_flags(argv)
    except SlotfillError as e:
        raise ConfigError(f"{e} (slotfill {name} --help)") from None
    if name in NO_SWEEPS and is_sweep(argv):
        raise ConfigError(
            f"slotfill {name} runs once (a sweep would leave multirun/ folders"
            f"{', and serve would never reach its second run' if name == 'serve' else ''}): run it once per setting"
        )
    texts: list[str] = []
    if name == "predict":
        texts, argv = extract_texts(argv)
    else:
        words, _ = extract_texts([a for a in argv if not a.startswith("text=")])
        if words:  # else Hydra's parser words: "missing EQUAL at '<EOF>'", "LexerNoViableAltException"
            if Path(words[0]).exists():  # a model or data path typed without its key
                key = "data.path" if name == "train" else "ckpt"
                raise ConfigError(f"{words[0]}: settings are key=value: give {key}={words[0]}")
            where = "shell reads sentences from standard input; " if name == "shell" else ""
            raise ConfigError(
                f'{words[0]!r}: settings are key=value ({where}to tag a sentence: slotfill predict ckpt=... "...")'
            )
    argv = quote_paths(argv)
    if name == "train":  # +trainer.num_nodes=2 was the way to set these before the config listed them
        argv = [a[1:] if a.startswith("+") and a[1:].split("=", 1)[0] in TRAINER_ADDED else a for a in argv]
    if name == "train":
        argv = _output_dir_as_run_dir(argv)
        _check_resume_folder(argv)
        if prints_only(argv) and last_value(argv, "resume") not in (None, "", "null"):
            raise ConfigError(
                f"resume={last_value(argv, 'resume')}: a resumed run continues with its own saved config, "
                "not this composition: read it in that folder's run.json"
            )
        argv = launcher_argv(resume_argv(argv))
        if not prints_only(argv):
            _refuse_a_busy_run_dir(argv)
    if name == "evaluate":
        typed = "output_dir" if last_value(argv, "output_dir") is not None else "hydra.run.dir"
        argv = _output_dir_as_run_dir(argv)
        if not prints_only(argv):
            _refuse_a_training_run_dir(argv, typed)
    return texts, flags_last(job_name(argv, name))


def _output_dir_as_run_dir(argv: list[str]) -> list[str]:
    """``output_dir=DIR`` (train, evaluate) is the run folder: Hydra's record and log go there too (they
    went to a dated folder of their own, apart from the results), and it is checked as ``hydra.run.dir`` is."""
    given = last_value(argv, "output_dir")
    if given is None:
        return argv
    if is_sweep(argv):  # every job would write into the one folder (and hydra.run.dir is not a sweep's)
        raise ConfigError(f"output_dir={given}: a sweep's jobs each have a folder under hydra.sweep.dir: give that")
    run_dir = last_value(argv, "hydra.run.dir")
    if run_dir is not None and Path(run_dir).absolute() != Path(given).absolute():
        raise ConfigError(f"output_dir={given} hydra.run.dir={run_dir}: one run, one folder; give hydra.run.dir alone")
    kept = [a for a in argv if not a.lstrip("+").startswith(("output_dir=", "hydra.run.dir="))]
    return quote_paths([*kept, f"hydra.run.dir={given}"])


def _refuse_a_training_run_dir(argv: list[str], typed: str = "hydra.run.dir") -> None:
    """``evaluate hydra.run.dir=RUN_DIR`` (or ``output_dir=``, as ``typed``) of a training run: refused
    before Hydra writes its ``.hydra/`` over that run's, and evaluate its metrics.json over the run's own."""
    run_dir = named_run_dir(argv)
    if run_dir is not None:
        from slotfill.core.schema import refuse_a_training_run

        refuse_a_training_run(run_dir, typed)


def _check_resume_folder(argv: list[str]) -> None:
    """``resume=`` names an existing run folder: refused before Hydra makes a folder of a mistyped path."""
    given = last_value(argv, "resume")
    if given in (None, "", "null"):
        return
    folder = Path(given)
    if folder.is_file():
        raise ConfigError(f"resume={folder}: a file; resume= takes the run folder (RUN_DIR) that holds it")
    if not folder.is_dir():
        raise ConfigError(f"resume={folder}: no such run folder")


def _refuse_a_busy_run_dir(argv: list[str]) -> None:
    """A named run folder another process trains in, or that holds another run to keep, is refused
    before Hydra overwrites its ``.hydra/`` (that run's record of its settings)."""
    run_dir = named_run_dir(argv)
    if run_dir is not None:
        from slotfill.core.files import check_writable
        from slotfill.training.run_folder import RunFolder, check_free, is_rank_zero, put_back_earlier_record

        folder = Path(run_dir)
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"hydra.run.dir={folder}: a file; give a folder for the run")
        # probed where it exists, never made and removed here: under torchrun every rank starts at
        # once, and a folder another rank's Hydra has just made must not go
        existing = next(p for p in [folder, *folder.parents] if p.exists())
        if not existing.is_dir():
            raise ConfigError(f"hydra.run.dir={folder}: {existing} is a file; give a folder for the run")
        try:
            check_writable(existing)
        except SlotfillError as e:
            reason = str(e).rpartition("cannot write there")[2].strip() or str(e)
            raise ConfigError(f"hydra.run.dir={folder}: cannot write there {reason}") from None
        check_free(folder)
        if is_rank_zero():
            put_back_earlier_record(folder)  # one a killed run with overwrite=true left set aside
            if _claims_afresh(argv):
                RunFolder(folder).check_claim(overwrite=_overwrites(argv))


def _claims_afresh(argv: list[str]) -> bool:
    """A training that claims its run folder as a new run: not resumed, and not under another primary
    config (which may set ``resume`` or ``overwrite`` itself)."""
    resuming = last_value(argv, "resume") not in (None, "", "null")
    return not resuming and not any(a.split("=")[0] in OTHER_CONFIG for a in argv)


def _overwrites(argv: list[str]) -> bool:
    return (last_value(argv, "overwrite") or "").lower() == "true"


def _run_dir_held(name: str, argv: list[str]):
    """``train hydra.run.dir=DIR``: the folder's lock from before Hydra writes its ``.hydra/`` there (see
    :func:`slotfill.training.run_folder.held`); the other ranks of a run leave it to rank 0."""
    run_dir = named_run_dir(argv)
    if name != "train" or run_dir is None or prints_only(argv):
        return nullcontext()
    from slotfill.training.run_folder import held, is_rank_zero

    return held(run_dir) if is_rank_zero() else nullcontext()


def _earlier_run_kept(name: str, argv: list[str]):
    """``train hydra.run.dir=DIR overwrite=true`` on another run's folder: that run's Hydra record stays
    its own until this run claims the folder (see :func:`slotfill.training.run_folder.earlier_record_kept`).
    ``evaluate hydra.run.dir=DIR`` on an earlier evaluation's folder: its record stays until this one
    has written its scores (an evaluation that fails leaves the earlier scores beside their own settings)."""
    run_dir = named_run_dir(argv)
    if name not in ("train", "evaluate") or run_dir is None or not run_dir.is_dir() or prints_only(argv):
        return nullcontext()
    if name == "train" and not (_claims_afresh(argv) and _overwrites(argv)):
        return nullcontext()
    from slotfill.training.run_folder import earlier_record_kept, is_rank_zero

    if name == "evaluate":
        return earlier_record_kept(run_dir, until_success=True)
    return earlier_record_kept(run_dir) if is_rank_zero() else nullcontext()


def run_command(name: str, argv: list[str]) -> int:
    """Run ``slotfill <name> argv...``: our own short help, or the Hydra job with ``argv`` as overrides.

    Every way in (``slotfill``, ``python -m slotfill``, ``train.py`` &c.) comes here, so a setting,
    an error and an exit status mean the same whichever was used.
    """
    command = COMMANDS[name]
    if any(a in ("-h", "--help") for a in argv):
        sys.stdout.write(command.help())
        return 0
    if "--version" in argv:  # slotfill's, as `slotfill --version` says it (Hydra would print its own)
        print(f"slotfill {__version__}")
        return 0
    friendly_errors(_run_hydra, name)(name, list(argv))  # Hydra's own errors too: one line, exit 2
    return 0


NO_SWEEPS = {"predict", "shell", "export", "serve"}  # commands with no run folder of their own: no -m
SWEEPS_IN_CONFIG = {"train"}  # commands whose config files may ask for a sweep themselves (hydra.mode: MULTIRUN)


# Hydra's flags that choose another primary config, which could set hydra.mode itself
OTHER_CONFIG = ("-cn", "--config-name", "-cp", "--config-path", "-cd", "--config-dir")


def one_run(name: str, argv: list[str]) -> bool:
    """Whether ``slotfill <name> argv`` is a single run whatever its config says: no ``-m``, no
    ``hydra.mode`` override, no other primary config, and a command whose config files do not sweep."""
    if name in SWEEPS_IN_CONFIG:
        return False
    for a in argv:
        if a in ("-m", "--multirun") or a.lstrip("+").startswith("hydra.mode") or a.split("=")[0] in OTHER_CONFIG:
            return False
    return True


@contextmanager
def _single_run_mode() -> Iterator[None]:
    """Hydra composes the whole config once more before the run only to read ``hydra.mode``
    (``Hydra.get_mode``): ~0.1 s of a cold ``predict`` (bench/RESULTS.md, "Hydra's second
    composition"). For a single run its first call answers None at once, which Hydra reads as a
    plain run (as when no config sets it), and puts Hydra's own method back."""
    from hydra._internal.hydra import Hydra

    saved = Hydra.get_mode

    def single_run(self, config_name, overrides):
        Hydra.get_mode = saved
        return None

    Hydra.get_mode = single_run
    try:
        yield
    finally:
        Hydra.get_mode = saved


class _WithoutHydrasJobLine:
    """Standard error without Hydra's "Error executing job with overrides: [...]" line, which its sweeper
    writes for a failed job before it raises the job's error: slotfill says that error in its own line."""

    PREFIX = "Error executing job with overrides:"

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return len(text) if text.startswith(self.PREFIX) else self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextmanager
def _hydras_job_line_dropped() -> Iterator[None]:
    saved = sys.stderr
    sys.stderr = _WithoutHydrasJobLine(saved)
    try:
        yield
    finally:
        sys.stderr = saved


def _run_hydra(name: str, argv: list[str]) -> None:
    texts, argv = hydra_argv(name, argv)
    import hydra  # seconds of imports the other subcommands and --help do not need

    main = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=name)(
        friendly_errors(_sweep_goes_on(_task(name, texts), name), name, passing=(SweepJobFailed,))
    )
    ctrl_c_interrupts()
    saved, saved_env, saved_before = sys.argv, os.environ.get(COMMAND_ENV), os.environ.get(FOLDER_BEFORE_ENV)
    saved_full_error = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors, whatever the caller set: printed on one line
    # Lightning's DDP launcher starts each further rank as sys.argv[0] with sys.argv[1:]: the same
    # entry (script, console script or module) with the overrides; the command travels in COMMAND_ENV
    sys.argv = [saved[0] if saved else "slotfill", *argv]
    os.environ[COMMAND_ENV] = name
    named = named_run_dir(argv)  # and the working folder (hydra.job.chdir moves the job out of it)
    before = [os.getcwd(), *([str(named)] if named is not None and named.is_dir() else [])]
    os.environ[FOLDER_BEFORE_ENV] = os.pathsep.join(os.path.abspath(f) for f in before)  # "a/../b" as Hydra's
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level  # Hydra's job logging replaces them for the run
    try:
        with _run_dir_held(name, argv), _earlier_run_kept(name, argv):
            with _single_run_mode() if one_run(name, argv) else _hydras_job_line_dropped():
                main()
    finally:
        for handler in root.handlers:  # the run's log file closed: a caller's later logs are not appended to it
            if handler not in handlers:
                handler.close()
        root.handlers[:], root.level = handlers, level
        sys.argv = saved
        restored = ((COMMAND_ENV, saved_env), ("HYDRA_FULL_ERROR", saved_full_error), (FOLDER_BEFORE_ENV, saved_before))
        for key, value in restored:
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
