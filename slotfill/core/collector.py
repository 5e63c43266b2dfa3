"""Python's garbage collector around a command's start.

Starting a command makes ~170,000 long-lived objects with PyTorch (640,000 by the time training
begins): the libraries, the vocabularies, the model, the data. With Python's default thresholds
a full collection runs every time the heap has grown by a quarter, and walks every one of them:
three to nine full collections while starting, up to 0.4 s each, and one more at exit
(bench/RESULTS.md, "The garbage collector at start-up"). So a command collects rarely while it
starts (:func:`starting`); once its model is loaded, :func:`settled` moves everything made so far
out of the collector's walk (``gc.freeze``) and collections go on as before.
"""

from __future__ import annotations

import gc

STARTING = 100_000  # allocations between young collections while starting (Python's default: 700)

_saved: tuple[int, ...] | None = None  # the thresholds before starting()


def starting() -> None:
    """Collect rarely from now until :func:`settled` or :func:`restore`."""
    global _saved
    if _saved is None:
        _saved = gc.get_threshold()
    gc.set_threshold(STARTING, *_saved[1:])


def restore() -> None:
    """The thresholds as they were before :func:`starting` (nothing to do if it was not called)."""
    global _saved
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None


def settled(collect: bool = False) -> None:
    """Start-up is over: what it made leaves the collector's walk, and collections go on as before.

    ``collect``: collect first, so that no garbage is kept for good (a server, whose start-up time
    matters less than its memory).
    """
    if collect:
        gc.collect()
    gc.freeze()
    restore()
