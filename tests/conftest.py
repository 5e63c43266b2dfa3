import gc
import os
import sys
from pathlib import Path

# The hub is unreachable here: fail fast instead of retrying (read by datasets at import time).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(items) -> None:
    """Tests marked ``long`` first: with ``-n`` (pytest-xdist) the other workers run the rest meanwhile."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True)
def _collector_as_found():
    """A command run in this process as a script runs it (``main()``, no argv) keeps what it froze,
    since its process would end with it (slotfill.core.collector): each test gives that back."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()


@pytest.fixture(autouse=True)
def _no_file_systems_kept():
    """Each test makes its URLs' file systems afresh, as a new Ray actor does (slotfill.core.file_systems)."""
    from slotfill.core import file_systems

    file_systems._ROOTS.clear()
    yield


def write_split(root: Path, split: str, seq_in: str | bytes, seq_out: str | bytes, label: str | bytes | None):
    d = root / split
    d.mkdir(parents=True, exist_ok=True)
    for name, content in (("seq.in", seq_in), ("seq.out", seq_out), ("label", label)):
        if content is None:
            continue
        if isinstance(content, str):
            content = content.encode()
        (d / name).write_bytes(content)
    return d


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def tiny_model_file(tmp_path) -> Path:
    """An untrained tiny model saved as ``model.pt`` (no training: for fast tests)."""
    from tests.helpers import tiny_model

    return tiny_model(intent=True).save(tmp_path / "model.pt")


def _trained_once(tmp_path_factory, name: str, extra: list[str]) -> dict:
    """A sample run trained once per ``make test``, whichever pytest-xdist worker asks first; the others
    wait for it and read its ``metrics.json``."""
    import json

    from filelock import FileLock

    from tests.helpers import train_on_sample

    base = tmp_path_factory.getbasetemp()
    # under pytest-xdist each worker's folder sits in the run's own: that one is shared by the workers
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / name
    with FileLock(str(out) + ".lock"):
        if not (out / "metrics.json").is_file():
            train_on_sample(out, extra=extra)
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def trained_sample(tmp_path_factory):
    """A tagger trained on the bundled sample (shared by tests that need a checkpoint)."""
    # the intent head pools the slot encoder: on 60 sentences the default's own intent encoder leaves
    # the slots undertrained (tests/test_tagger.py reads the role of an unseen city from context)
    extra = ["model.intent=true", "model.intent_encoder=shared", "model.char_dim=16", "model.char_filters=16"]
    extra += ["train.word_dropout=0.1", "monitor=val/joint"]
    return _trained_once(tmp_path_factory, "sample_run", extra)


@pytest.fixture(scope="session")
def trained_sample_crf(tmp_path_factory):
    """A tagger built like the accuracy presets (CRF, own intent encoder, intent -> slot scores) on the sample."""
    extra = ["model.crf=true", "model.intent=true", "model.intent_encoder=separate", "model.intent_to_slot=true"]
    return _trained_once(tmp_path_factory, "sample_run_crf", extra)
