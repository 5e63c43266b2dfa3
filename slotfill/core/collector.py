"""Python's garbage collector around a command's start.

Starting a command makes ~170,000 long-lived objects with PyTorch (640,000 by the time training
begins): the libraries, the vocabularies, the model, the data. With Python's default thresholds
a full collection runs every time the heap has grown by a quarter, and walks every one of them:
three to nine full collections while starting, up to 0.4 s each, and one more at exit
(bench/RESULTS.md, "The garbage collector at start-up"). So a command collects rarely while it
starts (:func:`starting`); once its model is loaded, :func:`settled` moves everything made so far
out of the collector's walk (``gc.freeze``) and collections go on as before.

Frozen objects are never collected, and a training run leaves reference cycles (the trainer, its
callbacks, the model) that only a collection frees. A process that ends with its command keeps them
frozen (and skips the collection at exit); a command called from Python (a notebook, the tests)
gives them back to the collector when it returns (:func:`finished`); else each training run kept
~130,000 objects and ~70 MB for good (bench/RESULTS.md).
"""

from __future__ import annotations

import gc

STARTING = 100_000  # allocations between young collections while starting (Python's default: 700)

_saved: tuple[int, ...] | None = None  # the thresholds before starting()
_caller_froze: bool | None = None  # whether objects were frozen before the command started (None: no command)
_depth = 0  # commands running (a command may run another from Python: only the outermost acts)
_command_froze = False  # whether the running command has frozen anything yet


def starting() -> None:
    """A command starts: collect rarely from now until :func:`settled`; :func:`finished` ends it."""
    global _saved, _caller_froze, _depth
    _depth += 1
    if _depth > 1:
        return
    _saved = gc.get_threshold()
    _caller_froze = gc.get_freeze_count() > 0
    gc.set_threshold(STARTING, *_saved[1:])


def in_command() -> bool:
    """Whether a command started by :func:`starting` is running (and has not :func:`finished`)."""
    return _depth > 0


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
    global _command_froze
    if collect:
        gc.collect()
    gc.freeze()
    _command_froze = _command_froze or in_command()
    restore()


def job_started() -> None:
    """A job of the running command starts (a sweep runs several): what earlier jobs froze, their
    garbage with it, goes back to the collector, which frees that garbage now, before this job builds
    its data and model; what is still live is frozen again."""
    if _command_froze and _caller_froze is False:
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def finished(keep_frozen: bool) -> None:
    """The command is over: the thresholds come back and, unless ``keep_frozen`` (the process ends
    with it), what it froze goes back to the collector's walk, where its cycles are freed.

    Objects the caller froze before the command stay frozen, and so then do the command's:
    ``gc.unfreeze`` cannot tell them apart. A command run inside another leaves it to the outer one.
    """
    global _caller_froze, _depth, _command_froze
    if _depth == 0:  # no command started
        return
    _depth -= 1
    if _depth > 0:
        return
    restore()
    if not keep_frozen and _caller_froze is False:
        gc.unfreeze()
    _caller_froze, _command_froze = None, False
