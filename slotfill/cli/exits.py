"""Helpers for the command-line entry points: one-line errors and the exit status.

Exit status: 0 done, 1 a bug (with its traceback), 2 a user error (one ``error: ...`` line on
stderr: bad data, argument, checkpoint, a failed write, a diverged training), 130 Ctrl-C.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import sys
from collections.abc import Callable
from typing import TypeVar

from slotfill.errors import SlotfillError

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


def fail(message: str, code: int = USER_ERROR) -> None:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def interrupted() -> None:
    print("interrupted", file=sys.stderr)
    sys.exit(INTERRUPTED)


def one_line(e: BaseException) -> str:
    """A (Hydra, OmegaConf) error message on one line, without search paths and doc links."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    lines = [line for line in lines if not line.lower().startswith(_NOISE)]
    text = " ".join(lines) or type(e).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def _config_error(e: BaseException) -> str | None:
    """The one-line message of an error in slotfill's settings (OmegaConf), or None for other errors."""
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    if isinstance(e, MissingMandatoryValue):
        key = getattr(e, "full_key", None) or "a setting"
        return f"{key} is required: add {key}=..."
    if isinstance(e, OmegaConfBaseException):
        return one_line(e)
    return None


def friendly_errors(fn: F) -> F:
    """Turn user errors into ``error: ...`` on stderr and exit status 2 (no traceback); Ctrl-C exits 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SlotfillError as e:
            fail(str(e))
        except Exception as e:
            # Hydra's instantiate wraps errors raised while building configured objects
            if isinstance(e.__cause__, SlotfillError):
                fail(str(e.__cause__))
            message = _config_error(e)
            if message is None:
                raise
            fail(message)
        except KeyboardInterrupt:
            interrupted()

    return wrapper  # type: ignore[return-value]


def _exit_interrupted(signum, frame) -> None:
    print("interrupted", file=sys.stderr, flush=True)
    os._exit(INTERRUPTED)


def quiet_ctrl_c() -> None:
    """Until :func:`run_entry` starts, Ctrl-C exits 130 at once (it would break off an import with
    a traceback). Called first thing by the entry scripts."""
    signal.signal(signal.SIGINT, _exit_interrupted)


def run_entry(main: Callable[[], object], prepare_argv: Callable[[list[str]], list[str]] | None = None) -> None:
    """Run a ``@hydra.main`` function so that Hydra's own errors are one line and exit 2 too.

    Hydra prints a composition error (an unknown key or group option, a bad override) on
    several lines and exits 1; told ``HYDRA_FULL_ERROR`` it raises instead, and the error is
    reported here. Errors inside the task are handled by :func:`friendly_errors`.
    """
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    # from here Ctrl-C is a KeyboardInterrupt again: the run can say it was interrupted
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if prepare_argv is not None:
            sys.argv = prepare_argv(sys.argv)
        main()
    except SlotfillError as e:
        fail(str(e))
    except (HydraException, OmegaConfBaseException) as e:
        override = getattr(e, "override", None)  # a parse error names the override it could not read
        fail(f"cannot read {override}: {one_line(e)}" if override else _config_error(e) or one_line(e))
    except OSError as e:  # Hydra writing .hydra/ or train.log into a folder it cannot write
        fail(f"{e.filename or 'a file'}: {e.strerror or e}")
    except KeyboardInterrupt:
        interrupted()


def resume_argv(argv: list[str]) -> list[str]:
    """``train.py resume=RUN_DIR``: run in RUN_DIR itself, and keep its ``.hydra`` copy of the first start.

    A resumed run continues with its own saved config, so other settings are refused.
    """
    given = [a for a in argv[1:] if a.startswith("resume=")]
    if not given or given[-1] == "resume=" or given[-1] == "resume=null":
        return argv
    folder = given[-1][len("resume=") :].strip("'\"")
    others = [a for a in argv[1:] if _OVERRIDE.match(a) and not a.startswith(("resume=", "hydra."))]
    if others:
        raise SlotfillError(
            f"resume= continues a run with its own saved config: drop {' '.join(others)} "
            "(or start a new run with init_from=RUN_DIR/model.pt)"
        )
    extra = []
    if not any(a.startswith("hydra.run.dir=") for a in argv[1:]):
        extra.append(f"hydra.run.dir='{folder}'" if "'" not in folder else f"hydra.run.dir={folder}")
    if not any(a.startswith("hydra.output_subdir=") for a in argv[1:]):
        extra.append("hydra.output_subdir=null")
    return [*argv, *extra]


_OVERRIDE = re.compile(r"^[+~]{0,2}[A-Za-z_][\w.@/-]*=")


def extract_texts(argv: list[str]) -> tuple[list[str], list[str]]:
    """Pull free text out of the command line before Hydra parses it.

    Hydra's override grammar rejects apostrophes and commas, so ``text=...`` arguments and bare
    sentences (arguments that are neither ``key=value`` nor ``-flags``) are taken verbatim.
    Returns ``(texts, remaining_argv)``.
    """
    texts, rest = [], [argv[0]]
    for arg in argv[1:]:
        if arg.startswith("text="):
            texts.append(arg[len("text=") :])
        elif arg.startswith("-") or _OVERRIDE.match(arg):
            rest.append(arg)
        else:
            texts.append(arg)
    return texts, rest


PATH_KEYS = ("ckpt", "input", "output", "split_dir", "data.path")


def quote_paths(argv: list[str], keys: tuple[str, ...] = PATH_KEYS) -> list[str]:
    """Quote path values that hold ``=`` (``ckpt=.../epoch=09-val_f1=89.63.ckpt``), which Hydra's
    override grammar would reject; values already quoted, or holding a quote, are left alone."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+") in keys and "=" in value and value[:1] not in ("'", '"') and "'" not in value:
            arg = f"{key}='{value}'"
        out.append(arg)
    return out
