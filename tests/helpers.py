"""Shared test helpers: compose the real configs, train on the sample, run the entry scripts, tiny models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SAMPLE = ROOT / "data" / "sample"

TINY_MODEL = [
    "model.word_dim=32",
    "model.hidden_size=32",
    "model.dropout=0.0",
    "model.embed_dropout=0.0",
    "model.output_dropout=0.0",
]
TAGS = ["O", "B-from", "I-from", "B-to", "I-to"]
# make test-fast sets it: property tests draw a quarter of their examples there, all of them in make test
FAST = os.environ.get("SLOTFILL_FAST_TESTS") == "1"


def examples(n: int) -> int:
    """A property test's ``max_examples``: ``n``, or a quarter of it (at least 5) under ``make test-fast``."""
    return max(5, n // 4) if FAST else n


def compose_config(overrides: list[str], output_dir: Path, config_name: str = "train") -> DictConfig:
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(config_name=config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.output_dir = str(output_dir)
    return cfg


def sample_overrides(epochs: int = 40, extra: list[str] | None = None) -> list[str]:
    return [
        "data=sample",
        f"data.path={SAMPLE}",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "trainer.deterministic=false",
        "callbacks.early_stopping.patience=100",
        "optimizer.lr=0.01",
        "train.unk_replace=0.0",
        # the tests' sample runs keep the settings they were written for: no lexicons, no span dropout
        "model.lexicons=null",
        "train.lexicon_dropout=0",
        "train.mention_swap=0",
        "train.average_last=1",
        "threads=1",  # make test runs a worker per core (pytest-xdist): two threads each would oversubscribe them
        "train.span_dropout=0",
        # float32: a bfloat16 run's last bits can follow what the process ran before (docs/training.md,
        # Precision), and the tests' tiny models read single sentences; tests/test_fit.py trains one in bf16
        "train.precision=fp32",
        # figures cost a tiny run ~0.4 s, half its time; the tests that read them ask for them (plots=true)
        "plots=false",
        *TINY_MODEL,
        *(extra or []),
    ]


def train_on_sample(output_dir: Path, epochs: int = 40, extra: list[str] | None = None) -> dict:
    """Train in this process on the bundled sample; the run's ``metrics.json`` content."""
    from slotfill.cli.jobs import train

    return train(compose_config(sample_overrides(epochs, extra), output_dir))


def run_script(
    script: str, args: list[str], stdin: str | None = None, timeout: int = 240, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``train.py``/``predict.py``/... in a subprocess from the repository root, text in and out."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def run_shell(command: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """A bash command line from the repository root (for limits and redirections a test sets up)."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def one_line_error(proc: subprocess.CompletedProcess, message: str, code: int | None = 2) -> None:
    """Assert the process failed with exactly one line on stderr that contains ``message``."""
    assert proc.returncode != 0 if code is None else proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]


def tiny_vocabs(lexicon: bool = False):
    from slotfill.core.lexicon import Lexicon
    from slotfill.core.vocab import Vocabularies

    tokens = [["i", "want", "to", "leave", "taipei"], ["arrive", "in", "new", "york"]]
    tags = [["O", "O", "O", "O", "B-from"], ["O", "O", "B-to", "I-to"]]
    lists = Lexicon({"city": ["taipei", "new york", "boston"], "state": ["new york"]}) if lexicon else None
    return Vocabularies.from_training_data(tokens, tags, ["flight", "flight#airfare"], lexicon=lists)


def tiny_model(seed: int = 0, lexicon: bool = False, **net):
    """An untrained :class:`SlotModel` on :func:`tiny_vocabs` (eval mode)."""
    from slotfill.models import NetConfig
    from slotfill.models.slot_model import SlotModel

    torch.manual_seed(seed)
    cfg = NetConfig(word_dim=8, hidden_size=6, char_dim=net.pop("char_dim", 4), char_filters=5, **net)
    return SlotModel(cfg, tiny_vocabs(lexicon), meta={"dataset": "tiny"}).eval()


def labelled_batch(vocabs, sentences, intent: str = "flight") -> dict:
    from slotfill.models.encoding import collate, encode_example

    return collate([encode_example(s, ["O"] * len(s), intent, vocabs, i) for i, s in enumerate(sentences)])


def free_port() -> int:
    """A free TCP port on the loopback address."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(proc: subprocess.Popen, url: str, timeout: float = 60, poll: float = 0.2) -> None:
    """Wait for ``url/health`` to answer 200; fail with the server's stderr if it exits first."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read()
            raise AssertionError((err.decode() if isinstance(err, bytes) else err)[-2000:])
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(poll)
