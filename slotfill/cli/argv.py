"""The command line of a Hydra command, made readable for Hydra: free text, paths with ``=``, ``resume=``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from slotfill.core.schema import LAST_CHECKPOINT, MODEL_FILE
from slotfill.errors import SlotfillError

_OVERRIDE = re.compile(r"^(?:[+~]{0,2}[A-Za-z_][\w.@/-]*=|~[A-Za-z_][\w.@/-]*$)")  # key=value, or ~key (delete)
# Hydra's flags that take a value: the value is not a sentence to tag
VALUE_FLAGS = ("--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd")
INFO_CHOICES = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")
PATH_KEYS = (
    *("ckpt", "input", "output", "split_dir", "resume", "init_from", "train.distill_from"),
    *("data.path", "data.train", "data.valid", "data.test", "hydra.run.dir", "hydra.sweep.dir"),
)
_GRAMMAR = re.compile(r"""[=,\[\]{}()'"\\\s]""")  # what Hydra's override grammar would read as its own


def _words(argv: list[str]) -> list[tuple[str, list[str]]]:
    """``(kind, arguments)`` for each word of a command line: ``"flag"`` (a Hydra flag with its value,
    if it takes one), ``"override"`` (``key=value``) or ``"text"`` (anything else)."""
    words: list[tuple[str, list[str]]] = []
    args = iter(argv)
    for arg in args:
        flag, eq, value = arg.partition("=")
        if eq and flag in VALUE_FLAGS:  # --cfg=job: the flag and its value in one word
            words.append(("flag", [flag, value]))
        elif arg in VALUE_FLAGS or arg == "--experimental-rerun":
            value = next(args, None)
            words.append(("flag", [arg] if value is None else [arg, value]))
        elif arg in INFO_CHOICES and words and words[-1][1] in (["--info"], ["-i"]):
            words[-1][1].append(arg)  # --info takes an optional value
        elif arg.startswith("-"):
            words.append(("flag", [arg]))
        elif _OVERRIDE.match(arg):
            words.append(("override", [arg]))
        else:
            words.append(("text", [arg]))
    return words


def prints_only(argv: list[str]) -> bool:
    """Whether Hydra only prints (``--cfg``, ``--info``, ``--hydra-help``): no job runs, no folder is used."""
    printing = ("--cfg", "-c", "--info", "-i", "--hydra-help")
    return any(kind == "flag" and args[0] in printing for kind, args in _words(argv))


CFG_CHOICES = ("job", "hydra", "all")
_MODES = {
    "--run": "--run",
    "-r": "--run",
    "--multirun": "--multirun",
    "-m": "--multirun",
    "--cfg": "--cfg",
    "-c": "--cfg",
    "--info": "--info",
    "-i": "--info",
}


def check_flags(argv: list[str]) -> None:
    """Hydra's flags as its parser would take them, refused in one line where it would print its
    usage or a traceback, or take the next word (an override slotfill adds) for a missing value."""
    flags = [args for kind, args in _words(argv) if kind == "flag"]
    given = {args[0] for args in flags}
    for args in flags:
        if args[0] in VALUE_FLAGS and len(args) == 1:
            choices = f" ({', '.join(CFG_CHOICES)})" if args[0] in ("--cfg", "-c") else ""
            raise SlotfillError(f"{args[0]} needs a value{choices}")
        if args[0] in ("--cfg", "-c") and args[1] not in CFG_CHOICES:
            raise SlotfillError(f"{args[0]} {args[1]}: choose one of {', '.join(CFG_CHOICES)}")
    if given & {"--package", "-p", "--resolve"} and not given & {"--cfg", "-c"}:
        flag = next(f for f in ("--package", "-p", "--resolve") if f in given)
        raise SlotfillError(f"{flag} goes with --cfg (it prints the config, it runs nothing)")
    modes = sorted({mode for flag, mode in _MODES.items() if flag in given})
    if len(modes) > 1:
        raise SlotfillError(f"{' and '.join(modes)}: give one of --run, --multirun, --cfg, --info")


def last_value(argv: list[str], key: str) -> str | None:
    """What the last ``key=VALUE`` (or ``+key=VALUE``) of a command line gives, as Hydra reads one quoted
    string (quotes dropped, escapes undone: ``'bob\\'s run'`` is ``bob's run``); None if none."""
    values = [a.split("=", 1)[1] for a in argv if a.lstrip("+").startswith(f"{key}=")]
    return _unquoted(values[-1]) if values else None


# the folders there before Hydra made its files (the working folder, and the run folder named on the
# command line if it existed), joined by os.pathsep: a job that stops before writing anything leaves
# them (it removes a folder Hydra made for it)
FOLDER_BEFORE_ENV = "SLOTFILL_RUN_FOLDER_BEFORE"


def named_run_dir(argv: list[str]) -> Path | None:
    """The folder ``hydra.run.dir=`` names, known before Hydra starts: ``${oc.env:...}`` is read here;
    None when none is given, it uses another interpolation (``${now:...}``: Hydra's to resolve), or a
    sweep runs (its jobs go under ``hydra.sweep.dir``)."""
    value = last_value(argv, "hydra.run.dir")
    if value is None or is_sweep(argv):
        return None
    if "${" in value:
        if re.sub(r"\$\{oc\.env:[^${}]*\}", "", value).count("${"):
            return None
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        try:
            value = str(OmegaConf.create({"dir": value}).dir)
        except OmegaConfBaseException:  # an unset variable: Hydra says so in its own words
            return None
    return Path(value)


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = re.sub(r"\\(['\"])", r"\1", value[1:-1])
        return re.sub(r"(\\+)$", lambda m: m.group(1)[: len(m.group(1)) // 2], inner)
    return value.strip("'\"")


def unknown_flags(argv: list[str]) -> list[str]:
    """The ``-flags`` of a Hydra command's line that Hydra's parser does not know (``--foo``); ``--cfg=job``,
    ``--multi`` (an abbreviation argparse takes) and ``--`` are known."""
    from hydra._internal.utils import get_args_parser  # the flags of the Hydra that will read the line

    known = list(get_args_parser()._option_string_actions)

    def knows(flag: str) -> bool:
        name = flag.split("=")[0]
        return name == "--" or name in known or (name.startswith("--") and any(k.startswith(name) for k in known))

    return [args[0] for kind, args in _words(argv) if kind == "flag" and not knows(args[0])]


def extract_texts(argv: list[str]) -> tuple[list[str], list[str]]:
    """Pull free text out of the arguments before Hydra parses them.

    Hydra's override grammar rejects apostrophes and commas, so ``text=...`` arguments and bare
    sentences (arguments that are neither ``key=value`` nor ``-flags`` and their values) are taken
    verbatim. Returns ``(texts, remaining_arguments)``.
    """
    texts, rest = [], []
    for kind, args in _words(argv):
        if kind == "override" and args[0].startswith("text="):
            texts.append(args[0][len("text=") :])
        elif kind == "text":
            texts.extend(args)
        else:
            rest.extend(args)
    return texts, rest


_ESCAPED = re.compile(r"""\\([\\ ,=:()\[\]{}\t'"])""")  # Hydra's escapes outside quotes: '/tmp/my\ dir'
_SWEEP_FUNCTION = re.compile(r"^(?:glob|choice|range|interval|tag|sort|shuffle)\(")


def _quoted(value: str) -> str:
    """``value`` as one quoted Hydra string: inside quotes only a quote, and backslashes before a
    quote or the end, are escaped."""
    value = _ESCAPED.sub(r"\1", value)  # what the user escaped for Hydra, as Hydra would have read it
    return "'" + re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, value).replace("'", "\\'") + "'"


def is_path_key(key: str, keys: tuple[str, ...] = PATH_KEYS) -> bool:
    return key in keys or key.startswith("model.lexicons.")


def is_sweep(argv: list[str]) -> bool:
    """Whether the command line asks for a sweep (``-m``, ``--multirun`` or ``hydra.mode=MULTIRUN``)."""
    return any(a in ("-m", "--multirun") or a.lstrip("+") == "hydra.mode=MULTIRUN" for a in argv)


def quote_paths(argv: list[str], keys: tuple[str, ...] = PATH_KEYS) -> list[str]:
    """Quote path values holding characters Hydra's override grammar reads as its own (``=`` in
    ``ckpt=.../epoch=09-val_f1=89.63.ckpt``, ``,`` ``[`` ``{`` ``(`` quotes, spaces): the path is read as
    written; values the user quoted already are left alone. In a sweep (``-m``), a comma separates
    paths (each quoted) and a sweep function (``glob(...)``) is Hydra's."""
    sweep = is_sweep(argv)
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and is_path_key(key.lstrip("+"), keys) and value[:1] not in ("'", '"') and _GRAMMAR.search(value):
            if not sweep:
                arg = f"{key}={_quoted(value)}"
            elif not _SWEEP_FUNCTION.match(value):
                paths = re.split(r"(?<!\\),", value)  # an escaped comma is a comma in a path
                arg = f"{key}={','.join(_quoted(v) for v in paths)}"
        out.append(arg)
    return out


def resume_argv(argv: list[str]) -> list[str]:
    """``train resume=RUN_DIR``: run in RUN_DIR itself, and keep its ``.hydra`` copy of the first start.

    A resumed run continues with its own saved config, so other settings are refused.
    """
    folder = last_value(argv, "resume")
    if folder in (None, "", "null"):
        return argv
    others = [a for a in argv if _OVERRIDE.match(a) and not a.startswith(("resume=", "hydra."))]
    if others:
        weights = (Path(folder) / MODEL_FILE, Path(folder) / LAST_CHECKPOINT)
        model = next((p for p in weights if p.is_file()), None)  # a run that crashed has no model.pt
        start = f" (or start a new run from its weights with init_from={model})" if model else ""
        if any(a.lstrip("+").startswith("threads=") for a in others):  # the setting a smaller machine wants
            start = f"; its threads too, for the same arithmetic as its epochs so far{start}"
        raise SlotfillError(f"resume= continues a run with its own saved config: drop {' '.join(others)}{start}")
    elsewhere = last_value(argv, "hydra.run.dir")
    if elsewhere is not None and Path(elsewhere.strip("'\"")).absolute() != Path(folder).absolute():
        raise SlotfillError(
            f"resume={folder} hydra.run.dir={elsewhere}: a run continues in its own folder; drop hydra.run.dir"
        )
    extra = []
    if not any(a.startswith("hydra.run.dir=") for a in argv):
        extra.append(f"hydra.run.dir={_quoted(folder)}")
    if not any(a.startswith("hydra.output_subdir=") for a in argv):
        extra.append("hydra.output_subdir=null")
    return [*argv, *extra]


def launcher_argv(argv: list[str], env: dict | None = None) -> list[str]:
    """Under ``torchrun`` (or any TorchElastic launcher) or SLURM's ``srun`` with several tasks, every
    rank starts this command at once: one run folder for all of them, named after the run's id unless
    ``hydra.run.dir`` is given, and one ``.hydra`` copy per rank, as Lightning's own launcher does."""
    env = os.environ if env is None else env
    run_id, rank, launcher = env.get("TORCHELASTIC_RUN_ID"), env.get("RANK", "0"), "torchrun"
    tasks = env.get("SLURM_STEP_NUM_TASKS", "")  # srun's, for its step (a batch script runs one task)
    if not run_id and tasks.isdigit() and int(tasks) > 1 and "SLURM_PROCID" in env:
        run_id = f"{env.get('SLURM_JOB_ID', 'job')}.{env.get('SLURM_STEP_ID', '0')}"
        rank, launcher = env["SLURM_PROCID"], "slurm"
    if not run_id:
        return argv
    extra = []
    if not any(a.startswith("hydra.run.dir=") for a in argv):
        extra.append(f"hydra.run.dir=outputs/{launcher}/{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}")
    if rank != "0" and not any(a.startswith("hydra.output_subdir=") for a in argv):
        extra.append(f"hydra.output_subdir=.hydra_rank_{rank}")
    return [*argv, *extra]


def job_name(argv: list[str], name: str) -> list[str]:
    """Name the Hydra job after the command, so its log is ``train.log`` however it was started."""
    if any(a.startswith("hydra.job.name=") for a in argv):
        return argv
    return [*argv, f"hydra.job.name={name}"]


def flags_last(argv: list[str]) -> list[str]:
    """Overrides first, then Hydra's flags with their values: its parser reads no override after a flag."""
    words = _words(argv)
    return [a for kind, args in words if kind != "flag" for a in args] + [
        a for kind, args in words if kind == "flag" for a in args
    ]
