"""``MODEL_CARD.md``: a short, human-readable card written beside an exported model."""

from __future__ import annotations

import json
from pathlib import Path

from slotfill.core.files import write_atomic
from slotfill.core.spans import slot_of

SCORE_KEYS = ("f1", "precision", "recall", "intent_accuracy", "sentence_accuracy")


def _scores(card: dict, metrics: dict | None) -> dict[str, dict]:
    # a metrics.json beside the file is this model's only when it names the same fingerprint
    if metrics and isinstance(metrics.get("scores"), dict) and metrics.get("fingerprint") == card.get("fingerprint"):
        return metrics["scores"]
    return card.get("scores") or {}


def _provenance(card: dict, seed: object) -> str:
    members = card.get("ensemble_of")
    if members:
        seeds = ", ".join(str(m.get("seed", "?")) for m in members)
        k = len(members)
        return f"- ensemble of {k} models (seeds {seeds}): each answer costs {k}x one model's compute"
    return f"- trained: {card.get('trained_at') or 'unknown'}; seed {seed}"


def _labels(vocab: dict | None) -> list[str]:
    """A vocabulary's labels without its specials (padding, unknown)."""
    if not vocab:
        return []
    return list(vocab["itos"][len(vocab.get("specials") or []) :])


def render(card: dict, vocabs: dict | None = None, metrics: dict | None = None, name: str = "model") -> str:
    """Markdown for a model card (:meth:`SlotModel.card`), its vocabularies and its ``metrics.json``."""
    model = card.get("model") or {}
    seed = card.get("seed", (metrics or {}).get("seed", "unknown"))  # models trained before the card had it
    lines = [
        f"# Model card: {name}",
        "",
        f"- slotfill {card.get('slotfill_version', '?')} (file format {card.get('format', '?')})",
        f"- data set: {card.get('dataset') or 'unknown'}"
        + (f" (sha256 {card['data_sha256'][:16]}...)" if card.get("data_sha256") else ""),
        _provenance(card, seed),
        f"- architecture: {model.get('num_layers', '?')}-layer bidirectional {model.get('cell', '?')}, "
        f"hidden {model.get('hidden_size', '?')}, CRF {'yes' if model.get('crf') else 'no'}, "
        f"intent head {'yes' if model.get('intent') else 'no'}, "
        f"lexicons {', '.join(model.get('lexicons') or {}) or 'none'}",
        f"- fingerprint (weights, settings, vocabularies): `{card.get('fingerprint', '?')}`",
        f"- weights sha256: `{card.get('weights_sha256', '?')}`",
    ]
    if vocabs:
        tags = _labels(vocabs.get("tags"))
        slots = sorted({slot_of(t) for t in tags} - {""})
        lines += ["", f"## Labels ({len(slots)} slot types)", "", ", ".join(f"`{s}`" for s in slots) or "none"]
        intents = _labels(vocabs.get("intents"))
        if intents and model.get("intent"):
            lines += ["", f"Intents ({len(intents)}): " + ", ".join(f"`{i}`" for i in intents)]
    scores = _scores(card, metrics)
    if scores:
        lines += ["", "## Scores (seqeval, default mode)", "", "| split | " + " | ".join(SCORE_KEYS) + " |"]
        lines.append("|---" * (len(SCORE_KEYS) + 1) + "|")
        for split, s in scores.items():
            cells = [f"{s[k]:.2f}" if isinstance(s.get(k), (int, float)) else "" for k in SCORE_KEYS]
            lines.append(f"| {split} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_model_card(model_file: str | Path, card: dict, vocabs: dict | None = None) -> Path:
    """The model card beside ``model_file`` (:func:`card_path`), scores from its run folder's
    ``metrics.json`` when they are this model's (a checkpoint in ``checkpoints/`` has its run above it)."""
    model_file = Path(model_file)
    folder = model_file.resolve().parent  # "checkpoints/x.ckpt" from inside a run: the run is named by its path
    run = folder.parent if folder.name == "checkpoints" else folder
    metrics = None
    metrics_file = run / "metrics.json"
    if metrics_file.is_file():
        try:
            metrics = json.loads(metrics_file.read_text())
        except (OSError, ValueError):
            metrics = None
    if model_file.name == "model.pt":
        name = run.name or model_file.name
    elif run != folder:
        name = f"{run.name}, {model_file.name}"
    else:  # an ensemble saved in a member's folder is not that member
        name = model_file.stem
    text = render(card, vocabs, metrics, name=name)
    return write_atomic(card_path(model_file), text)


def card_path(model_file: Path) -> Path:
    """``MODEL_CARD.md`` beside a run folder's ``model.pt``; ``NAME.MODEL_CARD.md`` beside any other
    model file (an ensemble saved in a member's folder leaves that member's card alone)."""
    if model_file.name == "model.pt":
        return model_file.parent / "MODEL_CARD.md"
    return model_file.parent / f"{model_file.stem}.MODEL_CARD.md"
