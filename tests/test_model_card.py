"""model_card.py: MODEL_CARD.md from the model's card, vocabularies and metrics.json."""

import json

from slotfill.evaluation.model_card import render, write_model_card
from tests.helpers import tiny_model


def test_card_names_data_labels_and_scores(tmp_path):
    model = tiny_model(intent=True)
    model.meta.update({"trained_at": "2026-11-27T16:00:00+00:00", "seed": 7, "data_sha256": "ab" * 32})
    path = model.save(tmp_path / "model.pt")
    metrics = {"scores": {"test": {"f1": 95.634, "precision": 95.5, "recall": 95.7}}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    text = write_model_card(path, model.card(), model.vocabs.to_dict()).read_text()
    assert text.startswith("# Model card:")
    assert "data set: tiny" in text and "2026-11-27T16:00:00+00:00" in text and "seed 7" in text
    assert "`from`" in text and "`to`" in text and "`flight`" in text
    assert "| test | 95.63 | 95.50 | 95.70 |" in text
    assert model.fingerprint() in text


def test_card_without_metrics_or_provenance():
    text = render({"dataset": "x", "model": {}})
    assert "trained: unknown" in text and "## Scores" not in text
