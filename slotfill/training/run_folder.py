"""One run, one folder: claim a run folder, record the run's status and config in ``run.json``, resume it.

``run.json`` is written (atomically) when training starts and again when it ends:

``status``   ``running`` (still running, or killed without a chance to say so), ``completed``,
             ``failed`` (``error`` says why) or ``interrupted`` (Ctrl-C; ``resume=`` continues it)
``config``   the run's config (interpolations kept), what ``resume=`` continues with
``history``  one entry per start (``started``, ``resumed_from``) and its end

A run folder belongs to one run: training into a folder that holds anything besides what
Hydra writes at start-up is refused unless ``resume=`` names it or ``overwrite=true`` clears it
(a run that ended, or was killed, before saving any epoch leaves nothing worth keeping: its
folder is reused). With ``overwrite=true`` the earlier run's files, its Hydra record and log
included, stay as they were until the new run claims the folder (:func:`earlier_record_kept`).
One process at a time trains in a folder (:func:`lock`; :func:`held` takes it before Hydra writes there).

``resume=`` continues only the same run on the same data: every checkpoint records the config
and the data fingerprint it was trained with (:class:`slotfill.training.callbacks.RunRecord`);
a saved config edited since, or training data changed since, is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from slotfill.core.files import write_json
from slotfill.core.schema import EARLIER_RECORD, LAST_CHECKPOINT, RUN_KEY, RUN_RECORD, WHERE_KEYS, run_record
from slotfill.errors import ConfigError

log = logging.getLogger(__name__)

LOCK_FILE = ".slotfill.lock"
# what Hydra (and a launcher logging this very run) writes before training starts: not another run's files
# (rank 1 of DDP writes .pl_hydra_rank_1 under Lightning's launcher, .hydra_rank_1 under torchrun)
_HYDRA_ENTRIES = (".hydra", "train.log", "commands.log", "__main__.log", "train.stdout", LOCK_FILE)
STATUSES = ("running", "completed", "failed", "interrupted")


def _busy(folder: Path, handle) -> ConfigError:
    handle.seek(0)
    pid = handle.read().strip() or "?"
    return ConfigError(
        f"{folder}: another slotfill process (pid {pid}) is training in this run folder; "
        "wait for it to end, or train in another folder"
    )


def check_free(folder: str | Path) -> None:
    """Refuse, before Hydra writes its ``.hydra/`` files there, a run folder another process trains in."""
    path = Path(folder) / LOCK_FILE
    if not path.is_file() or not is_rank_zero() or _held_here(folder):  # other ranks share rank 0's folder
        return
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(Path(folder), handle) from None


# run folders this process holds from before Hydra writes in them (:func:`held`), by resolved path
_HELD: dict[Path, object] = {}


def _held_here(folder: str | Path) -> bool:
    return Path(folder).resolve() in _HELD


def _locked_handle(folder: Path):
    handle = open(folder / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        error = _busy(folder, handle)
        handle.close()
        raise error from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


@contextlib.contextmanager
def held(folder: str | Path) -> Iterator[None]:
    """Hold a named run folder from before Hydra writes its ``.hydra/`` there until the job ends: of two
    trainings started at once into one folder, the second is refused before it rewrites the first's
    record of its settings. Folders made here for a job that wrote nothing in them go again."""
    folder = Path(folder).absolute()
    made = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        handle = _locked_handle(folder)
    except BaseException:
        _remove_if_empty(made)
        raise
    key = folder.resolve()
    _HELD[key] = handle
    try:
        yield
    finally:
        del _HELD[key]
        if folder in made and folder.is_dir() and {p.name for p in folder.iterdir()} == {LOCK_FILE}:
            (folder / LOCK_FILE).unlink(missing_ok=True)
        handle.close()
        _remove_if_empty(made)


def _remove_if_empty(folders: list[Path]) -> None:
    for p in folders:  # deepest first
        with contextlib.suppress(OSError):
            p.rmdir()


@contextlib.contextmanager
def lock(folder: str | Path) -> Iterator[None]:
    """Hold the run folder for this process: a second training in it (a second ``resume=``) is refused."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle = _HELD.get(folder.resolve())  # taken before Hydra started: released when the job ends
    own = handle is None
    if own:
        handle = _locked_handle(folder)
    try:
        sweep_temporary_files(folder)
        yield
    finally:
        if own:
            handle.close()  # closing releases the lock


def unlocked(folder: str | Path) -> bool:
    """Whether no other process holds the folder's lock now (a folder without a lock file is unlocked)."""
    if _held_here(folder):
        return True
    path = Path(folder) / LOCK_FILE
    try:
        handle = open(path)
    except FileNotFoundError:
        return True
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def sweep_temporary_files(folder: Path) -> list[Path]:
    """Remove the temporary files a killed writer left (``.NAME.*.tmp``); only under :func:`lock`."""
    stale = [p for where in (folder, folder / "checkpoints") for p in where.glob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temporary files left by a killed run", len(stale))
    return stale


def is_rank_zero() -> bool:
    """False in the extra processes of a DDP run, which must leave the folder to rank 0."""
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"):  # SLURM's srun sets only its own before start-up
        if os.environ.get(key, "0") not in ("", "0"):
            return False
    return True


def _own_entries(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    ranks = (".pl_hydra", ".hydra_rank_")
    return sorted(p for p in folder.iterdir() if p.name not in _HYDRA_ENTRIES and not p.name.startswith(ranks))


def _hydra_record(folder: Path) -> list[Path]:
    return [folder / name for name in _HYDRA_ENTRIES if name != LOCK_FILE and (folder / name).exists()]


def put_back_earlier_record(folder: str | Path) -> bool:
    """Put an earlier run's Hydra record back in its folder (a run set it aside and never claimed the
    folder): this run's own record, written at start-up, goes. Whether there was one to put back."""
    folder = Path(folder)
    kept = folder / EARLIER_RECORD
    if not kept.is_dir():
        return False
    for p in _hydra_record(folder):
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for p in kept.iterdir():
        p.replace(folder / p.name)
    kept.rmdir()
    return True


@contextlib.contextmanager
def earlier_record_kept(folder: str | Path, until_success: bool = False) -> Iterator[None]:
    """Around a run started with ``overwrite=true`` in a folder that holds another run: Hydra rewrites
    ``.hydra/`` and appends to the log at start-up, before the data has loaded, so the earlier run's
    record is set aside first. Claiming the folder clears it with that run's other files; a run that
    ends without claiming it (data that does not load, a bad setting) puts it back. ``until_success``:
    a job that ends without an error has replaced what the record described, so the record goes then."""
    folder = Path(folder)
    put_back_earlier_record(folder)  # one a killed run left set aside
    record = _hydra_record(folder)
    if record and _own_entries(folder):
        kept = folder / EARLIER_RECORD
        kept.mkdir()
        for p in record:
            p.replace(kept / p.name)
    try:
        yield
    except BaseException:
        put_back_earlier_record(folder)
        raise
    if until_success:
        shutil.rmtree(folder / EARLIER_RECORD, ignore_errors=True)
    else:
        put_back_earlier_record(folder)


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
    record = run_record(folder)
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
    record = run_record(folder) or {}
    if record.get("status") == "completed":
        raise ConfigError(f"resume={resume}: this run completed; start a new run (init_from=MODEL.pt to build on it)")
    last = folder / LAST_CHECKPOINT
    if not last.is_file():
        saved_any = any(folder.glob("checkpoints/*.ckpt")) or (folder / "model.pt").exists()
        again = "with overwrite=true" if saved_any else "(it is reused)"
        raise ConfigError(
            f"resume={resume}: no {LAST_CHECKPOINT}: the run ended before its last epoch was saved, so there is "
            f"nothing to continue; train again into that folder {again} or into a new one, without resume="
        )
    saved = saved_config(folder)
    check_same_config(last, saved, f"resume={resume}")
    saved.output_dir = str(folder)
    saved.resume = str(folder)  # init_from, if the run started from a model, stays: the run's record
    return saved, last


def checkpoint_record(checkpoint: str | Path) -> dict | None:
    """The config and data fingerprint a checkpoint was trained with (None: written before slotfill kept them)."""
    from slotfill.models.slot_model import read_torch_file  # torch: only when resuming

    raw = read_torch_file(checkpoint)
    record = raw.get(RUN_KEY) if isinstance(raw, dict) else None
    return record if isinstance(record, dict) else None


def _compared(config: object) -> dict:
    config = _current_targets(config if isinstance(config, dict) else {})
    return {k: v for k, v in config.items() if k not in WHERE_KEYS}


def _differences(old: object, new: object, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new), key=str)
        return [d for k in keys for d in _differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix[:-1]} {old!r} -> {new!r}"]


def check_same_config(checkpoint: Path, saved: DictConfig, what: str) -> None:
    """Refuse to resume with a config other than the one the checkpoint was trained with."""
    record = checkpoint_record(checkpoint)
    if record is None:
        log.warning("%s: %s predates the run record: its config and data are not compared", what, checkpoint)
        return
    changed = _differences(_compared(record.get("config")), _compared(OmegaConf.to_container(saved, resolve=False)))
    if changed:
        shown = "; ".join(changed[:4]) + (f"; and {len(changed) - 4} more" if len(changed) > 4 else "")
        raise ConfigError(
            f"{what}: the saved config in {RUN_RECORD} differs from the one {checkpoint.name} was trained with "
            f"({shown}); put it back, or start a new run (init_from=MODEL.pt to build on this one)"
        )


def check_same_data(record: dict | None, data_sha256: str | None, what: str, teacher: str | None = None) -> None:
    """Refuse to resume on training data other than the checkpoint's (its fingerprint in ``record``, from
    :func:`checkpoint_record`, when there), or from another teacher model (``train.distill_from``)."""
    record = record or {}
    recorded = record.get("data_sha256")
    if recorded and recorded != data_sha256:
        raise ConfigError(
            f"{what}: the data changed since the run started (fingerprint {recorded[:12]}... then, "
            f"{str(data_sha256)[:12]}... now): a resumed run would end as a mix of two data sets; "
            "restore the data, or start a new run"
        )
    recorded = record.get("teacher")
    if recorded and recorded != teacher:
        raise ConfigError(
            f"{what}: the teacher model (train.distill_from) changed since the run started (fingerprint "
            f"{recorded[:12]}... then, {str(teacher)[:12]}... now): restore that file, or start a new run"
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunFolder:
    """The folder of one training run and its ``run.json``."""

    def __init__(self, path: str | Path, earlier_log: int = 0) -> None:
        self.path = Path(path)
        self.record: dict = {}
        self.earlier_log = earlier_log  # bytes of train.log an earlier job wrote before this one began

    @property
    def started(self) -> bool:
        """Whether :meth:`start` wrote this run's ``run.json`` (before it, the folder is another run's)."""
        return bool(self.record)

    def check_claim(self, overwrite: bool = False) -> list[Path]:
        """Another run's files in the folder, to be cleared by :meth:`claim` (``overwrite``, or a run that
        saved no epoch); refused in one line when they are to be kept."""
        entries = _own_entries(self.path)
        if not entries:
            return entries
        names = ", ".join(p.name for p in entries[:4]) + (", ..." if len(entries) > 4 else "")
        record = run_record(self.path) or {}
        runs = (RUN_RECORD, "model.pt", "metrics.json", "checkpoints")  # a run's (before run.json: its model)
        if not record and not any((self.path / name).exists() for name in runs):  # someone's own files, kept
            raise ConfigError(
                f"{self.path}: holds files that are not a slotfill run's ({names}); choose another "
                "hydra.run.dir (overwrite=true clears only an earlier run's folder)"
            )
        if overwrite:
            return entries
        if self._ended_before_training():
            log.info("%s: reusing the folder of a run that saved no epoch", self.path)
            return entries  # nothing there to keep: a run that stopped before saving any epoch
        resumable = record.get("status") != "completed" and (self.path / LAST_CHECKPOINT).is_file()
        go_on = f"continue that run with resume={self.path}, " if resumable else ""
        raise ConfigError(
            f"{self.path}: run folder is not empty ({names}); choose another hydra.run.dir, "
            f"{go_on}or clear it with overwrite=true"
        )

    def claim(self, overwrite: bool = False) -> None:
        """Refuse a folder that holds another run's files; with ``overwrite``, clear them first, and the
        earlier run's part of ``train.log`` with them (this run's own lines kept)."""
        cleared = self.check_claim(overwrite)
        for p in cleared:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        log_file = self.path / "train.log"
        if cleared and self.earlier_log and log_file.is_file():  # Hydra's handler appends: the file is cut in place
            with open(log_file, "r+b") as f:
                f.seek(self.earlier_log)
                ours = f.read()
                f.seek(0)
                f.write(ours)
                f.truncate()

    def _ended_before_training(self) -> bool:
        """A failed, interrupted or killed run (under :func:`lock`, ``running`` means killed) with no epoch saved."""
        record = run_record(self.path) or {}
        saved = list(self.path.glob("checkpoints/*.ckpt")) + [p for p in [self.path / "model.pt"] if p.exists()]
        return record.get("status") in ("failed", "interrupted", "running") and not saved

    def start(self, cfg: DictConfig, resumed_from: Path | None = None) -> None:
        """Write ``run.json`` with status ``running`` and the config (kept from the first start on resume)."""
        previous = run_record(self.path) if resumed_from else None
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
        write_json(self.path / RUN_RECORD, self.record)
