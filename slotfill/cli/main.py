"""``slotfill COMMAND`` (also ``python -m slotfill COMMAND``): the one command-line entry point.

    slotfill train|predict|evaluate|export|serve [key=value ...]   Hydra runs (slotfill.cli.commands)
    slotfill convert IN OUT --to FORMAT [--from FORMAT] [--scheme SCHEME]
    slotfill data check [data=NAME | data.path=... | data.train=... ...] [--json]
    slotfill plot RUN_DIR... [-o FILE]     learning curves of one or more runs on one figure
    slotfill compare RUN_DIR... [--csv F]  the settings that differ between runs, and their scores
    slotfill ensemble RUN_DIR... [-o FILE] one model file that averages the scores of trained models

A Hydra subcommand is a :class:`slotfill.cli.commands.Command`; it is dispatched before argparse so
that Hydra's own flags and free text pass through untouched. Any other subcommand is a
module-level ``add_<name>(subparsers)`` below that sets ``func``; new ones join :data:`COMMANDS`.
User errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from slotfill.cli.commands import COMMAND_ENV, run_command
from slotfill.cli.commands import COMMANDS as HYDRA_COMMANDS
from slotfill.cli.exits import ctrl_c_interrupts, friendly_errors, quiet_ctrl_c
from slotfill.core import collector, resources
from slotfill.errors import ConfigError, SlotfillError
from slotfill.version import __version__


def _convert(args: argparse.Namespace) -> int:
    from slotfill.data.convert import convert, summary

    options = {"spans": True} if args.spans else {}
    written = convert(
        resources.resolve(args.input), args.output, args.to, args.src_format, args.scheme, args.src_scheme, **options
    )
    print(summary(written))
    return 0


def add_convert(sub: argparse._SubParsersAction) -> None:
    from slotfill.data.formats import FORMATS, READ_SCHEMES, WRITE_SCHEMES

    p = sub.add_parser(
        "convert",
        help="convert data between formats",
        description="Convert one split (a file or split folder) or a folder of splits to another format.",
    )
    p.add_argument("input", help="a file, a split folder (seq.in ...) or a folder of splits")
    p.add_argument("output", help="a file, or a folder when the input is a folder of splits or --to folder")
    p.add_argument("--to", required=True, choices=FORMATS[1:], help="the format to write")
    p.add_argument("--from", dest="src_format", default="auto", choices=FORMATS, help="the input's format (auto)")
    p.add_argument("--scheme", default="bio", choices=WRITE_SCHEMES, help="tagging scheme to write (bio)")
    p.add_argument("--from-scheme", dest="src_scheme", default="auto", choices=READ_SCHEMES, help="input scheme")
    p.add_argument("--spans", action="store_true", help="jsonl: write text and character spans, not tokens and tags")
    p.set_defaults(func=_convert)


def _data_check(args: argparse.Namespace) -> int:
    from slotfill.cli.argv import quote_paths
    from slotfill.cli.exits import config_error
    from slotfill.data.check import check, render
    from slotfill.data.load import data_config, load_splits

    if args.rare < 1:
        raise ConfigError(f"--rare {args.rare}: a number of times, 1 or more")
    for word in (w for w in args.overrides if "=" not in w and not w.startswith("~")):  # as train words these
        hint = f"give data.path={word}" if Path(word).exists() else "data=NAME, data.path=..., data.train=..."
        raise ConfigError(f"{word}: settings are key=value ({hint})")
    try:
        data = data_config(quote_paths(args.overrides))  # paths read as train reads them
    except ConfigError as e:
        message = config_error(e.__cause__, "train") if e.__cause__ is not None else None
        if message is None:
            raise
        raise ConfigError(message) from None
    splits, name = load_splits(data)
    report = check(splits, name, rare=args.rare)
    print(json.dumps(report.to_dict(), indent=1) if args.json else render(report), end="" if not args.json else "\n")
    failed = report.errors or (args.strict and report.warnings)
    return 1 if failed else 0


def add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="look at a data set", description="Look at a data set before training.")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    c = data_sub.add_parser(
        "check",
        help="statistics and problems of a data set",
        description="Per-split statistics and findings; exit status 1 on errors, 0 with warnings only.",
    )
    c.add_argument(
        "overrides", nargs="*", help="data settings as for slotfill train: data=snips, data.path=..., data.train=..."
    )
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("--rare", type=int, default=5, help="labels seen fewer times in train are reported (5)")
    c.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    c.set_defaults(func=_data_check)


def _plot(args: argparse.Namespace) -> int:
    from slotfill.evaluation.plots import learning_curves

    run = _run_holding(Path(args.output), args.runs) if len(args.runs) > 1 else None
    if run is not None:  # one run's own folder holds its own curves (-o RUN_DIR redraws them), not others'
        raise ConfigError(
            f"-o {args.output}: inside the run folder {run}, whose figures are that run's own: write elsewhere"
        )
    for path in learning_curves(args.runs, args.output, labels=args.labels):
        print(f"wrote {path}")
    return 0


def add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="learning curves (loss, validation F1, intent accuracy) of runs on one figure")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (with logs/metrics.csv)")
    p.add_argument(
        "-o",
        "--output",
        default="learning_curves",
        help="file name; .png and .svg are written (a folder: learning_curves.png/.svg in it)",
    )
    p.add_argument("--labels", nargs="+", help="one legend label per run (default: the folder names)")
    p.set_defaults(func=_plot)


def _compare(args: argparse.Namespace) -> int:
    from slotfill.core.files import write_atomic
    from slotfill.evaluation.compare import compare as table
    from slotfill.evaluation.compare import to_csv, to_markdown

    if args.csv:  # refused before the table is printed: exit 0 only with the CSV written
        _check_csv_path(Path(args.csv), args.runs)
    columns, rows = table(args.runs)
    print(to_markdown(columns, rows), end="")
    if args.csv:
        print(f"wrote {write_atomic(args.csv, to_csv(columns, rows))}")
    return 0


def _check_csv_path(csv: Path, runs: list[str]) -> None:
    """Refuse a ``--csv`` that is a folder or lies in a run folder compared (its metrics.json, model.pt, ...)."""
    if csv.is_dir():
        raise ConfigError(f"--csv {csv}: a folder: give a file name (table.csv)")
    run = _run_holding(csv, runs)
    if run is not None:
        raise ConfigError(f"--csv {csv}: inside the run folder {run}, which stays the run's: write it elsewhere")


def _run_holding(path: Path, runs: list[str]) -> str | None:
    """The run folder among ``runs`` that ``path`` is, or lies in (an output that would write over its files)."""
    return next((run for run in runs if path.resolve().is_relative_to(Path(run).resolve())), None)


def add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="one table: the settings that differ between runs, and their scores")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (with metrics.json)")
    p.add_argument("--csv", help="also write the table as CSV to this file")
    p.set_defaults(func=_compare)


def _ensemble(args: argparse.Namespace) -> int:
    from pathlib import Path

    from slotfill.core.backends import is_onnx
    from slotfill.core.schema import model_path
    from slotfill.models.slot_model import SlotModel

    output = Path(args.output)
    if is_onnx(output):
        raise ConfigError(f"-o {output}: an ensemble is a model file (.pt); export it to ONNX afterwards")
    for run in args.runs:
        if model_path(run).resolve() == output.resolve():
            raise ConfigError(f"-o {output}: one of the models combined; write the ensemble to another file")
    models = [SlotModel.load(run) for run in args.runs]
    replaced = output.is_file() and output.stat().st_size > 0  # an earlier ensemble (an empty file too, unread)
    if replaced:
        try:
            single = SlotModel.load(output).members == 1
        except SlotfillError as e:
            raise ConfigError(
                f"-o {output}: an existing file that is not a slotfill ensemble ({e}): delete it or name another"
            ) from None
        if single:
            raise ConfigError(f"-o {output}: a trained model, not an ensemble; write the ensemble to another file")
    path = SlotModel.combine(models, args.runs, distinct=True).save(output)
    print(
        f"wrote {path}: an ensemble of {len(models)} models (each answer costs {len(models)}x one model's compute); "
        f"score it with: slotfill evaluate ckpt={path}"
    )
    if replaced:  # what slotfill export wrote from the earlier ensemble describes it, not this one
        from slotfill.core.sidecar import export_files
        from slotfill.evaluation.model_card import card_path

        gone = [p for p in [*export_files(path), card_path(path)] if p.is_file()]
        for p in gone:
            p.unlink()
        if gone:
            print(f"removed the earlier ensemble's export: {', '.join(str(p) for p in gone)}")
    return 0


def add_ensemble(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ensemble",
        help="one model file that averages the scores of trained models",
        description="Combine trained models of one recipe (e.g. its seeds) into one model file that averages "
        "their scores: predict, evaluate, export and serve read it as any model, at k times the compute.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders or model files (at least 2)")
    p.add_argument("-o", "--output", default="ensemble.pt", help="the model file to write (ensemble.pt)")
    p.set_defaults(func=_ensemble)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_convert,
    add_data,
    add_plot,
    add_compare,
    add_ensemble,
]


class _Parser(argparse.ArgumentParser):
    """argparse, its mistakes said in one line (its own way is the usage, then the error)."""

    def error(self, message: str) -> NoReturn:
        found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if found:  # "slotfill trian": the one it was probably meant to be, first
            choices = re.findall(r"'?([^',\s]+)'?", found.group(2))
            close = difflib.get_close_matches(found.group(1), choices, n=1)
            if close:
                said = f"invalid choice: {found.group(1)!r}: did you mean {close[0]!r}? (choose from {found.group(2)})"
                message = message[: found.start()] + said + message[found.end() :]
        raise ConfigError(f"{message} ({self.prog} --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="slotfill",
        description="slotfill: slot filling with stacked BiLSTMs. 'slotfill COMMAND --help' describes a command.",
    )
    p.add_argument("--version", action="version", version=f"slotfill {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in HYDRA_COMMANDS.values():  # listed for --help; run by run_command
        sub.add_parser(command.name, help=command.summary.split(";")[0].rstrip("."), add_help=False)
    for add in COMMANDS:
        add(sub)
    return p


def is_ddp_relaunch(argv: list[str]) -> bool:
    """Whether this process is a further DDP rank that Lightning started with the overrides alone."""
    command = os.environ.get(COMMAND_ENV)
    known = {*HYDRA_COMMANDS, *(add.__name__.removeprefix("add_") for add in COMMANDS)}
    return bool(os.environ.get("LOCAL_RANK")) and command in HYDRA_COMMANDS and not (argv and argv[0] in known)


def main(argv: list[str] | None = None) -> int:
    """``slotfill COMMAND ...``: the exit status (user errors exit 2 with one line, Ctrl-C 130).

    ``argv``: from Python (tests, a notebook, a wrapper passing ``sys.argv[1:]``): what the command
    froze out of the garbage collector's walk is given back when it returns. Without it, ``sys.argv``,
    and the process ends with the command (the ``slotfill`` command, ``python -m slotfill``,
    ``train.py``, ``predict.py``): that stays frozen.
    """
    previous = signal.getsignal(signal.SIGINT)
    quiet_ctrl_c()
    collector.starting()  # until the command's model is loaded (slotfill.core.collector)
    from_python = argv is not None  # else the process ends with the command: what it froze stays frozen
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        if is_ddp_relaunch(argv):
            argv = [os.environ[COMMAND_ENV], *argv]
        if argv and argv[0] in HYDRA_COMMANDS:
            return run_command(argv[0], argv[1:])
        ctrl_c_interrupts()
        return _run_argparse(argv)
    finally:  # called from Python (tests, a notebook), the caller's Ctrl-C handling and collector come back
        signal.signal(signal.SIGINT, previous)
        collector.finished(keep_frozen=not from_python)


@friendly_errors
def _run_argparse(argv: list[str]) -> int:
    if argv and argv[0].startswith("-") and argv[0].split("=")[0] not in ("-h", "--help", "--version"):
        # else argparse says only that COMMAND is missing ("slotfill --versoin")
        close = difflib.get_close_matches(argv[0], ["--help", "--version"], n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"unrecognized option {argv[0]}: {hint}(slotfill --help)")
    args, extras = parser().parse_known_args(argv)
    if extras:  # named with the command's own help, not the top level's
        command = " ".join(filter(None, (args.command, getattr(args, "data_command", None))))
        raise ConfigError(f"unrecognized arguments: {' '.join(extras)} (slotfill {command} --help)")
    return int(args.func(args) or 0)
