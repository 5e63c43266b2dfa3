"""Exit statuses and one-line errors: what every command does with a failure, however it was started.

Exit status: 0 done, 1 a bug (with its traceback), 2 a user error (one ``error: ...`` line on
stderr: bad data, argument, checkpoint, a missing extra, a failed write, a diverged training),
130 Ctrl-C.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import signal
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from slotfill.errors import SlotfillError, missing_extra

F = TypeVar("F", bound=Callable)
USER_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
_NOISE = (
    "config search path",
    "provider=",
    "see https://",
    "set the environment variable",
    "full_key:",
    "object_type=",
)
_NOT_IN_STRUCT = re.compile(r"Could not override '([^']+)'|Key '([^']+)' is not in struct")
_FULL_KEY = re.compile(r"full_key: (\S+)")
_NO_OPTION = re.compile(  # the group as Hydra names it (hydra/sweeper), the choice all after it (atis/)
    r"Could not find '([^']*)'\s+Available options in '([^']+)':(.*?)(?:Config search path|$)", re.S
)


def fail(message: str, code: int = USER_ERROR) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def interrupted(said: str = "") -> NoReturn:
    """Exit 130 with one line: ``interrupted``, and what to do next where the command knows it."""
    print(f"interrupted: {said}" if said else "interrupted", file=sys.stderr)
    sys.exit(INTERRUPTED)


def one_line(e: BaseException) -> str:
    """A (Hydra, OmegaConf) error message on one line, without search paths and doc links."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    lines = [line for line in lines if not line.lower().startswith(_NOISE)]
    text = " ".join(lines) or type(e).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def known_settings(command: str) -> list[str]:
    """The dotted settings a command accepts, as its config files name them: its own file, and the
    options of the groups its ``defaults`` list names (a ``_global_`` option adds no group of its own),
    where a mistyped one finds its close match."""
    from omegaconf import OmegaConf

    from slotfill.core.resources import conf_dir

    def keys(node, prefix: str = "") -> list[str]:
        out = []
        for k, v in node.items() if isinstance(node, dict) else []:
            if k in ("defaults", "hydra"):
                continue
            out += [f"{prefix}{k}", *keys(v, f"{prefix}{k}.")]
        return out

    conf = conf_dir()
    try:
        own = OmegaConf.to_container(OmegaConf.load(conf / f"{command}.yaml"), resolve=False)
        found = keys(own)
        groups = [g for entry in own.get("defaults", []) if isinstance(entry, dict) for g in entry]
        for group in (g.removeprefix("optional ") for g in groups if not g.startswith(("override", "hydra"))):
            for option in (conf / group).glob("*.yaml"):
                if "@package _global_" not in option.read_text().split("\n", 1)[0]:
                    found += keys(OmegaConf.to_container(OmegaConf.load(option), resolve=False), f"{group}.")
    except Exception:  # a hint only: never an error of its own
        return []
    return sorted(set(found))


def config_error(e: BaseException, command: str | None = None) -> str | None:
    """The one-line message of an error in slotfill's settings (Hydra, OmegaConf), or None for other errors."""
    from hydra.errors import HydraException
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    if isinstance(e, MissingMandatoryValue):
        key = getattr(e, "full_key", None) or "a setting"
        return f"{key} is required: add {key}=..."
    if not isinstance(e, (HydraException, OmegaConfBaseException)):
        return None
    missing = _NO_OPTION.search(str(e))
    if missing:  # Hydra's "In 'train': Could not find 'data/sampel' Available options in 'data': ..."
        group, options = missing.group(2), missing.group(3).split()
        choice = missing.group(1).removeprefix(f"{group}/")
        close = difflib.get_close_matches(choice, options, n=1, cutoff=0.6)
        meant = f"did you mean {close[0]}? " if close else ""
        return f"{group}={choice}: no such {group} ({meant}choose one of {', '.join(options)})"
    unknown = _NOT_IN_STRUCT.search(str(e))
    if unknown:
        key = unknown.group(1) or unknown.group(2)
        inner = _FULL_KEY.search(str(e.__cause__ or ""))  # a mapping given whole: the key in it that is new
        if inner and inner.group(1).startswith(f"{key}."):
            key = inner.group(1)
            hint = f"; +{key}=... adds it"
        else:
            hint = ""
        where = f"slotfill {command} --help" if command else "--help"
        known = [k for k in known_settings(command) if k != key] if command and not hint else []
        # a near miss, not any word; a short key ("prot") is a near miss at a lower ratio
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8 if len(key) > 6 else 0.7)
        meant = f"did you mean {close[0]}? " if close else ""
        if not hint and key.startswith(("trainer.", "logger.", "callbacks.")):  # Lightning's own: open-ended
            hint = f"; or, a setting the config does not list, +{key}=... adds it"
        return f"unknown setting {key} ({meant}{where} lists the settings; --cfg job prints them all{hint})"
    override = getattr(e, "override", None)  # a parse error names the override it could not read
    return f"cannot read {override}: {one_line(e)}" if override else one_line(e)


def user_error(e: BaseException, command: str | None = None) -> str | None:
    """The one line to print for an error the user can act on; None for a bug (its traceback is kept)."""
    if isinstance(e, SlotfillError):
        return str(e)
    extra = missing_extra(e)
    if extra is not None:
        return str(extra)
    if isinstance(e.__cause__, SlotfillError):  # Hydra's instantiate wraps errors raised while building objects
        return str(e.__cause__)
    if type(e).__name__ == "MisconfigurationException":  # Lightning's word for settings it cannot run with
        return f"trainer settings: {one_line(e)}"
    if isinstance(e, RuntimeError) and "Early stopping conditioned on metric" in str(e):
        return f"monitor: {one_line(e)}"
    if isinstance(e, ValueError) and str(e).startswith("Config group override must be a string or a list"):
        return "a config group cannot be set to null (GROUP=null): remove it with ~GROUP (~logger: no logger)"
    message = config_error(e, command)  # first: Hydra's MissingConfigException is an OSError too
    if message is None and isinstance(e, BrokenPipeError) and not e.filename:  # | head: the reader went away
        from slotfill.cli.streams import silence_stdout

        silence_stdout()  # nothing more to flush into the closed pipe at exit
        return f"<stdout>: write failed ({e.strerror or e}); the output is incomplete"
    if message is None and isinstance(e, OSError):  # Hydra writing .hydra/ or the job's log where it cannot
        message = f"{e.filename or 'a file'}: {e.strerror or e}"
    return message


def friendly_errors(fn: F, command: str | None = None, passing: tuple[type[Exception], ...] = ()) -> F:
    """Turn user errors into ``error: ...`` on stderr and exit status 2 (no traceback); Ctrl-C exits 130.
    Errors of the ``passing`` types go on to the caller as they are."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt as e:
            interrupted(str(e.args[0]) if e.args and isinstance(e.args[0], str) else "")
        except passing:
            raise
        except Exception as e:
            message = user_error(e, command)
            if message is None:
                raise
            fail(message)

    return wrapper  # type: ignore[return-value]


def _exit_interrupted(signum, frame) -> None:
    print("interrupted", file=sys.stderr, flush=True)
    os._exit(INTERRUPTED)


def quiet_ctrl_c() -> None:
    """Until the command starts, Ctrl-C exits 130 at once (it would break off an import with a traceback)."""
    signal.signal(signal.SIGINT, _exit_interrupted)


def ctrl_c_interrupts() -> None:
    """From here Ctrl-C is a KeyboardInterrupt again: the run can say it was interrupted and save its state."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
