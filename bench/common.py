"""Helpers shared by the benchmarks."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
_HYDRA = threading.Lock()  # Hydra's compose API is process-global: one composition at a time


def worktree(commit: str) -> Path:
    """A checkout of ``commit`` beside the benchmark runs (made once), to measure it beside this one."""
    sha = subprocess.run(["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True, check=True)
    tree = ROOT / "bench" / "runs" / f"ref-{sha.stdout.strip()}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True)
    return tree


def train_overrides(overrides: list[str], threads: int | str) -> list[str]:
    """The overrides a benchmark run trains with (no progress bar, the given threads)."""
    return [*overrides, f"threads={threads}", "trainer.enable_progress_bar=false"]


def checkout_env(tree: Path) -> dict[str, str]:
    """The environment of a process running the checkout ``tree``'s code (a worktree's too), its data
    read from beside this checkout (a worktree's ``../shared`` is elsewhere)."""
    env = {**ENV, "PYTHONPATH": str(tree)}
    if "SLOTFILL_DATA_DIR" not in env and (ROOT.parent / "shared" / "data").is_dir():
        env["SLOTFILL_DATA_DIR"] = str(ROOT.parent / "shared" / "data")
    return env


def train_command(out: Path, overrides: list[str], threads: int | str, tree: Path = ROOT) -> list[str]:
    """``train.py`` of the checkout ``tree`` with the given overrides, writing to ``out``, without a progress bar."""
    cmd = [sys.executable, str(tree / "train.py"), *train_overrides(overrides, threads), f"hydra.run.dir={out}"]
    print("$", " ".join(cmd[1:]), flush=True)
    return cmd


def stale(out: Path, overrides: list[str], threads: int | str, precision: bool = True) -> str | None:
    """Why a finished run in ``out`` no longer matches the config these overrides compose today, or None.

    Run folders are reused by name; a default that changed since (a new setting, another value)
    must not be reported under the new name, nor a student distilled from a teacher file rebuilt
    since (an ensemble's path stays the same when its members change), nor, with ``precision``
    (training, not tabulating: a table says each row's precision), a run whose
    ``train.precision=auto`` trained in another precision than it does on this machine (bfloat16 on
    an AMX CPU, float32 elsewhere). Settings that change nothing a run learns (:data:`NO_EFFECT`)
    are not compared. What is not compared: the code. After a change that alters what the same
    config learns, move ``bench/runs/accuracy`` aside.
    """
    import json

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    saved = out / ".hydra" / "config.yaml"
    if not saved.exists():
        return f"{saved} missing"
    metrics = out / "metrics.json"
    teacher = json.loads(metrics.read_text()).get("teacher") if metrics.exists() else None
    if teacher and Path(teacher["file"]).exists():
        if Path(teacher["file"]).stat().st_mtime > metrics.stat().st_mtime:
            return f"its teacher {teacher['file']} was rebuilt after it"
    with _HYDRA, initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        now = compose("train", overrides=train_overrides(overrides, threads))
    then = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
    now = OmegaConf.to_container(now, resolve=False)
    why = _diff(then, now, "")
    if why is None and precision and metrics.exists():
        trained = (json.loads(metrics.read_text()).get("train") or {}).get("precision")
        here = _precision_here(now)
        if trained and here and trained != here:
            why = f"trained in {trained}, which train.precision={now['train'].get('precision')} is not here ({here})"
    return why


def _precision_here(cfg: dict) -> str | None:
    """What the config's ``train.precision`` trains in on this machine (``fp32``/``bf16``), or None."""
    sys.path.insert(0, str(ROOT))
    from slotfill.training.precision import resolve

    try:
        return resolve(str(cfg["train"].get("precision", "auto")), str(cfg["model"].get("cell", "lstm")))
    except Exception:  # a config this checkout cannot train: the run is compared by its settings only
        return None


# Settings that change how a run is shown or saved, never what it learns: runs from before one was
# added or changed stay today's (which callback class writes the checkpoints: RunCheckpoint keeps
# Lightning's selection and adds the moved-folder remap).
NO_EFFECT = (
    "callbacks.last_checkpoint",
    "callbacks.model_checkpoint._target_",
    "callbacks.model_checkpoint.save_last",
    "callbacks.model_checkpoint.enable_version_counter",
    "plots",
    "trainer.enable_progress_bar",
    "trainer.log_every_n_steps",
)


def _diff(then, now, path: str) -> str | None:
    if isinstance(then, dict) and isinstance(now, dict):
        for k in sorted(set(then) | set(now), key=str):
            where = f"{path}.{k}" if path else str(k)
            if where in NO_EFFECT:
                continue
            if k not in then and now[k] == _setting_default(where):
                continue  # a setting added since, at the value that keeps the old behaviour
            why = _diff(then.get(k), now.get(k), where)
            if why:
                return why
        return None
    return None if then == now else f"{path} was {then!r}, is {now!r}"


def _setting_default(where: str) -> object:
    """The dataclass default of ``train.X`` or ``model.X``, or Lightning's of a trainer setting the
    config lists since (what runs before the setting existed did)."""
    import dataclasses

    sys.path.insert(0, str(ROOT))
    from slotfill.core.schema import TRAINER_ADDED

    if where in TRAINER_ADDED:
        return TRAINER_ADDED[where]
    from slotfill.models.net import NetConfig
    from slotfill.training.module import TrainConfig

    group, _, name = where.partition(".")
    cls = {"train": TrainConfig, "model": NetConfig}.get(group)
    fields = {f.name: f.default for f in dataclasses.fields(cls)} if cls else {}
    return fields.get(name, dataclasses.MISSING)


def finished(out: Path, overrides: list[str], threads: int | str, keep_stale: bool = False) -> bool:
    """Whether ``out`` holds a finished run of today's config; a stale one is set aside as ``out.stale``.

    ``keep_stale`` (tabulating only) leaves a stale run in place and reports it missing.
    """
    if not (out / "metrics.json").exists():
        return False
    why = stale(out, overrides, threads, precision=not keep_stale)
    if why is None:
        return True
    print(f"  {out.name}: stale ({why}): " + ("not reported" if keep_stale else "trained again"), flush=True)
    if not keep_stale:
        aside = out.with_name(out.name + ".stale")
        if aside.exists():
            import shutil

            shutil.rmtree(aside)
        out.rename(aside)
    return False


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@contextmanager
def busy(n: int) -> Iterator[None]:
    """``n`` CPU-bound competitor processes spinning for the length of the block (a busy machine)."""
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(n)]
    for s in spinners:
        s.start()
    try:
        yield
    finally:
        stop.set()
        for s in spinners:
            s.join()
