"""One run, one folder: claim a run folder, record the run's status and config in ``run.json``, resume it.

``run.json`` is written (atomically) when training starts and again when it ends:

``status``   ``running`` (still running, or killed without a chance to say so), ``completed``,
             ``failed`` (``error`` says why) or ``interrupted`` (Ctrl-C; ``resume=`` continues it)
``config``   the run's config (interpolations kept), what ``resume=`` continues with
``history``  one entry per start (``started``, ``resumed_from``) and its end

A run folder belongs to one run: training into a folder that holds anything besides what
Hydra writes at start-up is refused unless ``resume=`` names it or ``overwrite=true`` clears it
(a run that failed before saving any epoch leaves nothing worth keeping: its folder is reused).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from slotfill.core.files import write_json
from slotfill.errors import ConfigError

RUN_FILE = "run.json"
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
# Hydra writes these before slotfill starts (rank 1 of DDP writes .pl_hydra_rank_1)
# what Hydra (and a launcher logging this very run) writes before training starts: not another run's files
_HYDRA_ENTRIES = (".hydra", "train.log", "commands.log", "__main__.log", "train.stdout")
STATUSES = ("running", "completed", "failed", "interrupted")


def is_rank_zero() -> bool:
    """False in the extra processes of a DDP run, which must leave the folder to rank 0."""
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK"):
        if os.environ.get(key, "0") not in ("", "0"):
            return False
    return True


def _own_entries(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name not in _HYDRA_ENTRIES and not p.name.startswith(".pl_hydra"))


def read_status(folder: str | Path) -> dict | None:
    """The ``run.json`` of a run folder, or None if it has none (or it is unreadable)."""
    try:
        return json.loads((Path(folder) / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None


# components a config names by ``_target_`` that moved when the package was regrouped by role (0.1.0):
# a run started before the move resumes with its own saved config
MOVED_TARGETS = {
    "slotfill.callbacks.": "slotfill.training.callbacks.",
    "slotfill.loggers.": "slotfill.training.loggers.",
    "slotfill.sweep.": "slotfill.training.sweep.",
}


def _current_targets(node: object) -> object:
    if isinstance(node, dict):
        return {k: _current_targets(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_current_targets(v) for v in node]
    if isinstance(node, str):
        for old, new in MOVED_TARGETS.items():
            if node.startswith(old):
                return new + node[len(old) :]
    return node


def saved_config(folder: Path) -> DictConfig:
    """The config a run started with: from ``run.json``, else Hydra's ``.hydra/config.yaml``."""
    record = read_status(folder)
    if record and isinstance(record.get("config"), dict):
        return OmegaConf.create(_current_targets(record["config"]))
    hydra_copy = folder / ".hydra" / "config.yaml"
    if hydra_copy.is_file():
        raw = OmegaConf.to_container(OmegaConf.load(hydra_copy), resolve=False)
        return OmegaConf.create(_current_targets(raw))
    raise ConfigError(f"resume={folder}: no run.json or .hydra/config.yaml: not a slotfill run folder")


def resume_config(cfg: DictConfig) -> tuple[DictConfig, Path | None]:
    """With ``resume=RUN_DIR``: the run's own config (output in RUN_DIR) and its last checkpoint.

    Without: ``cfg`` unchanged and None.
    """
    resume = cfg.get("resume")
    if not resume:
        return cfg, None
    folder = Path(str(resume))
    if not folder.is_dir():
        raise ConfigError(f"resume={resume}: no such run folder")
    record = read_status(folder) or {}
    if record.get("status") == "completed":
        raise ConfigError(f"resume={resume}: this run completed; start a new run (init_from=MODEL.pt to build on it)")
    last = folder / LAST_CHECKPOINT
    if not last.is_file():
        raise ConfigError(f"resume={resume}: no {LAST_CHECKPOINT} (the run ended before its first epoch was saved)")
    saved = saved_config(folder)
    saved.output_dir = str(folder)
    saved.resume = str(folder)
    saved.init_from = None  # the weights come from the checkpoint
    return saved, last


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunFolder:
    """The folder of one training run and its ``run.json``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.record: dict = {}

    def claim(self, overwrite: bool = False) -> None:
        """Refuse a folder that holds another run's files; with ``overwrite``, clear them first."""
        entries = _own_entries(self.path)
        if not entries:
            return
        if self._failed_before_training():
            overwrite = True  # nothing there to keep: a run that stopped before saving any epoch
        if not overwrite:
            names = ", ".join(p.name for p in entries[:4]) + (", ..." if len(entries) > 4 else "")
            raise ConfigError(
                f"{self.path}: run folder is not empty ({names}); choose another hydra.run.dir, "
                f"continue that run with resume={self.path}, or clear it with overwrite=true"
            )
        for p in entries:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()

    def _failed_before_training(self) -> bool:
        record = read_status(self.path) or {}
        saved = list(self.path.glob("checkpoints/*.ckpt")) + [p for p in [self.path / "model.pt"] if p.exists()]
        return record.get("status") == "failed" and not saved

    def start(self, cfg: DictConfig, resumed_from: Path | None = None) -> None:
        """Write ``run.json`` with status ``running`` and the config (kept from the first start on resume)."""
        previous = read_status(self.path) if resumed_from else None
        config = OmegaConf.to_container(cfg, resolve=False)
        config["output_dir"] = str(self.path)  # ${hydra:...} does not resolve outside Hydra
        self.record = {
            "status": "running",
            "pid": os.getpid(),
            "config": (previous or {}).get("config") or config,
            "history": [*(previous or {}).get("history", []), {"started": _now()}],
        }
        if resumed_from:
            self.record["history"][-1]["resumed_from"] = str(resumed_from)
            self._keep_log(len(self.record["history"]) - 1)
        self._write()

    def _keep_log(self, part: int) -> None:
        # Lightning's CSV logger starts metrics.csv afresh: the epochs before the resume stay here
        log = self.path / "logs" / "metrics.csv"
        if log.is_file():
            log.replace(log.with_name(f"metrics.part{part}.csv"))

    def finish(self, status: str, error: str | None = None) -> None:
        """Record how the run ended (``completed``, ``failed`` or ``interrupted``)."""
        assert status in STATUSES
        self.record["status"] = status
        self.record["history"][-1].update({"ended": _now(), "status": status})
        if error:
            self.record["error"] = error
        else:
            self.record.pop("error", None)
        self._write()

    def _write(self) -> None:
        write_json(self.path / RUN_FILE, self.record)
