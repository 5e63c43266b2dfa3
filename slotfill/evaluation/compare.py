"""One table of runs: the settings that differ between them and their scores.

A run is a folder with a ``metrics.json`` (training or evaluation; its ``model``, ``train``,
``dataset`` and ``scores`` keys) and, when Hydra wrote the run, ``.hydra/config.yaml`` (every
setting of the composed config). Used by ``python -m slotfill compare`` and the ``summary.csv``
written at the end of a ``-m`` sweep.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from slotfill.core.schema import EARLIER_RECORD, RUN_RECORD, TRAINER_ADDED, run_record
from slotfill.core.settings import is_number
from slotfill.errors import SlotfillError, first_line

SCORES = (("f1", "F1"), ("intent_accuracy", "intent"), ("sentence_accuracy", "sentence"))  # (key, column)
SLOT_SCORES = ("f1",)  # of SCORES, those undefined for a set without any slot (slot_scores_defined false)
SPLITS = ("train", "valid", "test")  # their columns' order; any other split after them, by name
FACTS = (("best_val_score", "best val score"), ("epochs", "epochs"), ("train_time_s", "train s"))
IGNORED = ("output_dir", "hydra")  # where a run went, not how it was made


def flatten(node: object, prefix: str = "") -> dict[str, object]:
    """``{"model.hidden_size": 128, ...}`` from nested dicts (lists kept as values)."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, object] = {}
    for k, v in node.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def load_run(run_dir: str | Path) -> dict:
    """``{"dir", "settings", "metrics"}`` of one run folder."""
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except FileNotFoundError:
        raise SlotfillError(_why_no_metrics(run_dir)) from None
    except (OSError, ValueError) as e:
        raise SlotfillError(f"{path}: unreadable ({e})") from None
    scores = metrics.get("scores", {}) if isinstance(metrics, dict) else None
    if not isinstance(scores, dict) or not all(isinstance(v, dict) for v in scores.values()):
        raise SlotfillError(f"{path}: not a slotfill metrics file (a JSON object with its scores by split)")
    for split, values in scores.items():
        for key, value in values.items():
            if not (value is None or is_number(value)):
                raise SlotfillError(f"{path}: scores.{split}.{key} = {value!r}: not a number")
    settings: dict[str, object] = {}
    hydra_cfg = run_dir / ".hydra" / "config.yaml"
    if (run_dir / EARLIER_RECORD / ".hydra" / "config.yaml").is_file():  # a job started there since, not done
        hydra_cfg = run_dir / EARLIER_RECORD / ".hydra" / "config.yaml"
    if hydra_cfg.is_file():
        settings.update(flatten(_hydra_settings(hydra_cfg)))
        if any(k.startswith("trainer.") for k in settings):  # a run begun before the config listed them used these
            settings.update({k: v for k, v in TRAINER_ADDED.items() if k not in settings})
    # the model file's own record wins: it is what was trained, whatever the YAML said
    settings.update(flatten({"model": metrics.get("model") or {}, "train": metrics.get("train") or {}}))
    # an evaluation's scores are on the data it read (metrics["data"]), not on the model's training set
    evaluated = metrics.get("data") if metrics.get("kind") == "evaluate" else None
    settings["dataset"] = evaluated or metrics.get("dataset")
    if metrics.get("kind") == "evaluate":
        settings.pop("seed", None)  # evaluate's own config value: the model's seed is in metrics.json, if known
    if "seed" in metrics:
        settings["seed"] = metrics["seed"]
    settings = {k: v for k, v in settings.items() if k.split(".")[0] not in IGNORED}
    return {"dir": str(run_dir), "settings": settings, "metrics": metrics}


def _why_no_metrics(run_dir: Path) -> str:
    """Why a folder named as a run has no ``metrics.json``: no folder, a run not finished, or no run."""
    if not run_dir.exists():
        return f"{run_dir}: no such folder"
    if not run_dir.is_dir():
        return f"{run_dir}: not a folder: give a run folder (with metrics.json)"
    record = run_record(run_dir)
    status = record.get("status") if record else None
    if status == "running":  # or killed without a chance to say so
        return f"{run_dir}: the run has not finished ({RUN_RECORD}: status running)"
    if status == "completed":
        return f"{run_dir}: a completed run's folder without metrics.json (moved or deleted?)"
    if status in ("failed", "interrupted"):
        return f"{run_dir}: the run did not finish ({RUN_RECORD}: status {status}): no metrics.json"
    return f"{run_dir}: not a run folder (no metrics.json)"


def _hydra_settings(path: Path) -> dict:
    """The settings in Hydra's ``config.yaml``; a file that is not a YAML mapping is refused in one line."""
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except yaml.MarkedYAMLError as e:  # its first line ("while parsing a flow sequence") says neither what nor where
        where = f"line {e.problem_mark.line + 1}: " if e.problem_mark else ""
        raise SlotfillError(f"{path}: unreadable ({where}{e.problem or first_line(e)})") from None
    except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as e:
        raise SlotfillError(f"{path}: unreadable ({first_line(e)})") from None
    if not isinstance(raw, dict) or not raw:  # an empty file: every setting would read as changed
        raise SlotfillError(f"{path}: unreadable (not a mapping of settings): restore it or delete it")
    return raw


def differing(runs: Sequence[dict]) -> list[str]:
    """Settings whose values are not the same in every run that has them.

    A setting missing from a run counts as a difference only beside runs of the same kind
    (training or evaluation) that have it: an evaluation folder has no ``callbacks.*`` or
    ``logger.*`` because evaluating has none, not because they were changed.
    """
    keys = sorted({k for r in runs for k in r["settings"]})
    out = []
    for k in keys:
        having = [r for r in runs if k in r["settings"]]
        values = {json.dumps(r["settings"][k], sort_keys=True) for r in having}
        kinds = {_kind(r) for r in having}
        missing_beside_its_kind = any(k not in r["settings"] and _kind(r) in kinds for r in runs)
        if len(values) > 1 or missing_beside_its_kind:
            out.append(k)
    return out


def _kind(run: dict) -> str:
    return str(run["metrics"].get("kind") or "train")


def compare(run_dirs: Sequence[str | Path]) -> tuple[list[str], list[list[object]]]:
    """Columns and rows: run, the differing settings, then scores and facts present in any run."""
    runs = [load_run(d) for d in run_dirs]
    keys = differing(runs) if len(runs) > 1 else []
    splits = {split for r in runs for split in r["metrics"].get("scores", {})}
    ordered = [s for s in SPLITS if s in splits] + sorted(splits - set(SPLITS))
    scores = [
        (split, key, f"{split} {col}")
        for split in ordered
        for key, col in SCORES
        if any(key in r["metrics"].get("scores", {}).get(split, {}) for r in runs)
    ]
    facts = [(key, col) for key, col in FACTS if any(r["metrics"].get(key) is not None for r in runs)]
    columns = ["run", *keys, *(c for _, _, c in scores), *(c for _, c in facts)]
    rows = []
    for r in runs:
        row: list[object] = [_short(r["dir"], run_dirs)]
        row += [r["settings"].get(k) for k in keys]
        # with no slot in the gold or the predictions, slot scores are 0 by convention: blank, as evaluate says n/a
        undefined = r["metrics"].get("slot_scores_defined") is False
        row += [
            None if undefined and key in SLOT_SCORES else r["metrics"].get("scores", {}).get(split, {}).get(key)
            for split, key, _ in scores
        ]
        row += [r["metrics"].get(key) for key, _ in facts]
        rows.append(row)
    return columns, rows


def _short(run_dir: str, all_dirs: Sequence[str | Path]) -> str:
    """The shortest trailing part of the path that tells the runs apart."""
    parts = [Path(d).resolve().parts for d in all_dirs]
    own = Path(run_dir).resolve().parts
    for n in range(1, len(own) + 1):
        if len({p[-n:] for p in parts}) == len(parts):
            return "/".join(own[-n:])
    return run_dir


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):  # scores (in %) with 2 decimals; small settings (lr 0.002) as they are
        return f"{v:.2f}" if v == 0 or abs(v) >= 1 else f"{v:.4g}"
    return str(v)


def to_markdown(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue()
