"""One schema for every file written next to a model: ``model.pt``, ``model.onnx.json``, ``metrics.json``.

Keys every one of them carries (README, "Files a run writes", documents them for users):

``format``            the writer's :data:`FORMAT_VERSION`; a reader refuses a newer one
``slotfill_version``  the package version that wrote the file
``dataset``           name of the training data set
``model``             architecture settings (:class:`slotfill.models.NetConfig`)
``train``             training settings (:class:`slotfill.module.TrainConfig`)
``weights_sha256``    fingerprint of the network weights (:meth:`SlotModel.fingerprint`)

``model.pt`` adds ``vocabs`` and ``state_dict``; the ONNX sidecar adds ``vocabs``, ``decode``,
``inputs`` and ``outputs``; ``metrics.json`` adds ``kind`` (``train`` or ``evaluate``),
``model_file`` and ``scores`` (one entry per split, the same score names in both kinds).

Files are written atomically (a temporary name in the same folder, then a rename), so a
killed process never leaves half a file under the final name.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .errors import CheckpointError, SlotfillError
from .version import __version__

FORMAT_VERSION = 2
CARD_KEYS = ("format", "slotfill_version", "dataset", "model", "train", "weights_sha256")


def check_format(found: object, source: str | Path) -> int:
    """The format number of a file, refused when this slotfill cannot read it."""
    if not isinstance(found, int) or found < 1:
        raise CheckpointError(f"{source}: unknown file format {found!r}")
    if found > FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: written in format {found} by a newer slotfill; this slotfill ({__version__}) "
            f"reads formats up to {FORMAT_VERSION}: upgrade slotfill"
        )
    return found


def umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file)."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise SlotfillError(f"{path}: cannot write ({e.strerror})") from None
    try:
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes the file private; the final file is an ordinary one
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise SlotfillError(f"{path}: cannot write ({e.strerror})") from None
    return path


def write_json(path: str | Path, obj: dict) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2) + "\n")


def metrics_record(kind: str, card: dict, scores: dict[str, dict], **facts) -> dict:
    """The ``metrics.json`` of a training or an evaluation: the model's card, facts, then scores by split."""
    return {
        "format": FORMAT_VERSION,
        "slotfill_version": __version__,
        "kind": kind,
        **{k: card.get(k) for k in CARD_KEYS if k not in ("format", "slotfill_version")},
        **facts,
        "scores": scores,
    }
