"""Helpers for the command-line entry points: one-line errors and a non-zero exit."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from typing import TypeVar

from .errors import SlotfillError

F = TypeVar("F", bound=Callable)


def friendly_errors(fn: F) -> F:
    """Turn user errors into ``error: ...`` on stderr and exit status 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SlotfillError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except Exception as e:
            # Hydra's instantiate wraps errors raised while building configured objects
            if isinstance(e.__cause__, SlotfillError):
                print(f"error: {e.__cause__}", file=sys.stderr)
                sys.exit(2)
            raise
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


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
