"""One schema for every file written next to a model: ``model.pt``, ``model.onnx.json``, ``metrics.json``.

Keys every one of them carries (``docs/files.md`` documents them for users):

``format``            the writer's :data:`FORMAT_VERSION`; a reader refuses a newer one
``slotfill_version``  the package version that wrote the file
``dataset``           name of the training data set
``model``             architecture settings (:class:`slotfill.models.NetConfig`)
``train``             training settings (:class:`slotfill.training.module.TrainConfig`)
``weights_sha256``    digest of the network weights (:meth:`SlotModel.weights_digest`)
``fingerprint``       digest of everything that decides an answer: weights, network settings and
                      vocabularies (:mod:`slotfill.core.fingerprint`, :meth:`SlotModel.fingerprint`)

``model.pt`` adds ``vocabs`` and ``state_dict``; the ONNX sidecar adds ``vocabs``, ``decode``,
``inputs`` and ``outputs``; ``metrics.json`` adds ``kind`` (``train`` or ``evaluate``),
``model_file`` and ``scores`` (one entry per split, the same score names in both kinds).

Files are written atomically by :mod:`slotfill.core.files`.
"""

from __future__ import annotations

from pathlib import Path

from slotfill.errors import CheckpointError
from slotfill.version import __version__

# 4: model.pt keeps each lexicon type's entries as one string; 3: the fingerprint over weights,
# settings and vocabularies; 2: over the weights alone
FORMAT_VERSION = 4
CARD_KEYS = ("format", "slotfill_version", "dataset", "model", "train", "weights_sha256", "fingerprint")


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


MODEL_FILE = "model.pt"  # what a training run writes into its folder
RUN_RECORD = "run.json"  # ...and its status and config, from the start (slotfill.training.run_folder)
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"  # ...and after every epoch, what resume= continues from
RUN_KEY = "slotfill_run"  # where a checkpoint records the config and data it was trained with
# settings that name where a run is rather than what it computes (not compared on resume, nor between runs)
WHERE_KEYS = ("resume", "output_dir", "init_from", "overwrite")
# where a folder's earlier run keeps its Hydra record while a new job starts there (training.run_folder)
EARLIER_RECORD = ".earlier_run_record"
# trainer settings the config lists since 2026-12-07, at Lightning's defaults: what a run begun before used
TRAINER_ADDED = {"trainer.num_nodes": 1, "trainer.val_check_interval": 1.0, "trainer.check_val_every_n_epoch": 1}


def run_record(folder: str | Path) -> dict | None:
    """A run folder's ``run.json``, or None if it has none, or one that is unreadable or not a mapping."""
    import json

    try:
        record = json.loads((Path(folder) / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def no_model_in(folder: str | Path, hint: str) -> str:
    """Why a folder named as a model is not one: a run's folder (by how its run went), or any other."""
    record = run_record(folder)
    if record is None:
        return f"{folder}: a folder without {MODEL_FILE} ({hint})"
    status = record.get("status")
    if status == "completed":
        return f"{folder}: a completed run's folder without {MODEL_FILE} (moved or deleted?): give the model file"
    if not (Path(folder) / LAST_CHECKPOINT).is_file():
        return f"{folder}: a run folder without {MODEL_FILE}: its run saved no epoch: train it again"
    return (
        f"{folder}: a run folder without {MODEL_FILE}: its run has not finished (resume={folder} finishes it; "
        "or give one of its checkpoints/*.ckpt)"
    )


def model_path(path: str | Path, suffix: str = ".pt") -> Path:
    """The model file ``path`` names: the file itself, or for a run folder its ``model.pt``
    (``suffix=".onnx"``: its ``model.onnx``). A folder without one is named as it is, to be refused."""
    path = Path(path)
    if path.is_dir():
        inside = path / Path(MODEL_FILE).with_suffix(suffix)
        return inside if inside.is_file() else path
    return path


def refuse_a_training_run(folder: str | Path, key: str) -> None:
    """A one-line error when ``folder`` (what setting ``key`` names) holds a training run: evaluate
    writes its metrics.json and reports into a folder of its own, never over a run's."""
    if (Path(folder) / RUN_RECORD).is_file():
        from slotfill.errors import ConfigError

        raise ConfigError(
            f"{key}={folder}: a training run's folder (its {RUN_RECORD}); evaluate writes its metrics.json "
            f"and reports into a folder of its own: give another {key}"
        )
