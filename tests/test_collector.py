"""core/collector.py: a command collects rarely while it starts, then freezes what it made."""

import gc
import json
import subprocess
import sys
import weakref

import pytest

from slotfill.cli.main import main
from slotfill.core import collector
from tests.helpers import ROOT


@pytest.fixture(autouse=True)
def thresholds():
    before = gc.get_threshold()
    yield before
    while collector.in_command():  # a test that started a command and did not finish it
        collector.finished(keep_frozen=False)
    gc.unfreeze()
    gc.set_threshold(*before)


class _Node:
    pass


def _cycle() -> weakref.ref:
    """Two objects that only hold each other (garbage only a collection frees): a weak reference to one."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_starting_then_restore_gives_back_the_thresholds(thresholds):
    collector.starting()
    assert gc.get_threshold() == (collector.STARTING, *thresholds[1:])
    collector.restore()
    assert gc.get_threshold() == thresholds


def test_a_command_inside_a_command_leaves_the_outer_one_running(thresholds):
    made = [[i] for i in range(20_000)]
    collector.starting()
    collector.starting()  # a command run from another's Python code
    collector.settled()
    collector.finished(keep_frozen=False)
    assert collector.in_command() and gc.get_freeze_count() >= len(made)
    collector.finished(keep_frozen=False)
    assert not collector.in_command() and gc.get_freeze_count() == 0


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_a_sweeps_next_job_frees_what_the_earlier_job_left(thresholds):
    """Each job of ``train -m`` froze its trainer and model: their cycles were kept for good."""
    collector.starting()
    collector.job_started()  # the first job: nothing frozen yet, nothing to do
    gone = _cycle()
    collector.settled()  # the first job's training starts
    assert gc.get_freeze_count() > 0 and gone() is not None
    live = [[i] for i in range(20_000)]
    collector.job_started()  # the next job
    assert gone() is None and gc.get_freeze_count() >= len(live)
    collector.finished(keep_frozen=False)


def test_settled_freezes_what_was_made_and_restores(thresholds):
    made = [[i] for i in range(20_000)]
    collector.starting()
    collector.settled()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() >= len(made) and len(gc.get_objects()) < 1_000


def test_a_command_run_from_python_leaves_the_callers_thresholds(thresholds, capsys):
    assert main(["predict", "--help"]) == 0
    assert gc.get_threshold() == thresholds
    assert not collector.in_command()


def test_a_finished_command_gives_back_what_it_froze_unless_the_process_ends_with_it(thresholds):
    made = [[i] for i in range(20_000)]
    for keep_frozen in (False, True):
        gc.unfreeze()
        collector.starting()
        assert collector.in_command()
        collector.settled()
        collector.finished(keep_frozen=keep_frozen)
        assert not collector.in_command() and gc.get_threshold() == thresholds
        if keep_frozen:
            assert gc.get_freeze_count() >= len(made)
        else:
            assert gc.get_freeze_count() == 0


def test_what_the_caller_froze_before_the_command_stays_frozen(thresholds):
    gc.freeze()
    before = gc.get_freeze_count()
    collector.starting()
    collector.settled()
    collector.finished(keep_frozen=False)
    assert gc.get_freeze_count() >= before > 0


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_a_cycle_made_in_a_command_run_from_python_is_freed_after_it(thresholds):
    """Frozen cycles are never collected: each training run called from Python kept ~70 MB for good."""

    collector.starting()
    gone = _cycle()
    collector.settled()
    collector.finished(keep_frozen=False)
    gc.collect()
    assert gone() is None


def test_predict_from_python_gives_back_the_model_it_froze(thresholds, tiny_model_file, capsys):
    assert main(["predict", f"ckpt={tiny_model_file}", "format=jsonl", "flights to boston"]) == 0
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds


PROBE = """
import gc, json, sys
full = []
gc.callbacks.append(lambda phase, info: phase == "stop" and info["generation"] == 2 and full.append(1))
from slotfill.cli.main import main
sys.argv = ["slotfill", "predict", f"ckpt={sys.argv[1]}", "format=jsonl", "flights to boston"]
code = main()  # as the slotfill command runs it: the process ends with the command
print(json.dumps({"code": code, "full": len(full), "frozen": gc.get_freeze_count()}))
"""


@pytest.mark.slow
def test_predict_starts_without_a_full_collection_and_freezes_the_model(tiny_model_file):
    """Importing torch alone made three full collections with Python's thresholds."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tiny_model_file)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    probe = json.loads(out.stdout.splitlines()[-1])
    assert probe["code"] == 0 and probe["full"] == 0 and probe["frozen"] > 50_000
