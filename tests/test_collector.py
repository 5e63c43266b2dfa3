"""core/collector.py: a command collects rarely while it starts, then freezes what it made."""

import gc
import json
import subprocess
import sys

import pytest

from slotfill.cli.main import main
from slotfill.core import collector
from tests.helpers import ROOT


@pytest.fixture(autouse=True)
def thresholds():
    before = gc.get_threshold()
    yield before
    collector.restore()
    gc.unfreeze()
    gc.set_threshold(*before)


def test_starting_then_restore_gives_back_the_thresholds(thresholds):
    collector.starting()
    collector.starting()  # twice: the first thresholds are the ones given back
    assert gc.get_threshold() == (collector.STARTING, *thresholds[1:])
    collector.restore()
    assert gc.get_threshold() == thresholds


def test_settled_freezes_what_was_made_and_restores(thresholds):
    made = [[i] for i in range(20_000)]
    collector.starting()
    collector.settled()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() >= len(made) and len(gc.get_objects()) < 1_000


def test_a_command_run_from_python_leaves_the_callers_thresholds(thresholds, capsys):
    assert main(["predict", "--help"]) == 0
    assert gc.get_threshold() == thresholds


PROBE = """
import gc, json, sys
full = []
gc.callbacks.append(lambda phase, info: phase == "stop" and info["generation"] == 2 and full.append(1))
from slotfill.cli.main import main
code = main(["predict", f"ckpt={sys.argv[1]}", "format=jsonl", "flights to boston"])
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
