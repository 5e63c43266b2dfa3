"""model_card.py: MODEL_CARD.md from the model's card, vocabularies and metrics.json."""

import json

from slotfill.evaluation.model_card import render, write_model_card
from tests.helpers import tiny_model


def test_card_names_data_labels_and_scores(tmp_path):
    model = tiny_model(intent=True)
    model.meta.update({"trained_at": "2026-11-27T16:00:00+00:00", "seed": 7, "data_sha256": "ab" * 32})
    path = model.save(tmp_path / "model.pt")
    metrics = {
        "fingerprint": model.fingerprint(),
        "scores": {"test": {"f1": 95.634, "precision": 95.5, "recall": 95.7}},
    }
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


def test_an_ensembles_card_names_its_members_and_no_members_scores(tmp_path):
    from slotfill.models.slot_model import SlotModel

    members = [tiny_model(seed=s, intent=True) for s in (1, 2)]
    for seed, m in enumerate(members, 1):
        m.meta.update({"seed": seed, "scores": {"test": {"f1": 90.0 + seed}}, "trained_at": "2026-11-27"})
    run = tmp_path / "run1"
    first = members[0].save(run / "model.pt")
    (run / "metrics.json").write_text(
        json.dumps({"fingerprint": members[0].fingerprint(), "scores": {"test": {"f1": 91.0}}})
    )
    ensemble = SlotModel.combine(members, [str(first), "run2/model.pt"])
    member_card = write_model_card(first, members[0].card(), members[0].vocabs.to_dict()).read_text()
    path = ensemble.save(run / "ensemble.pt")  # beside a member's metrics.json: not the ensemble's scores
    card = write_model_card(path, ensemble.card(), ensemble.vocabs.to_dict())
    assert card == run / "ensemble.MODEL_CARD.md" and (run / "MODEL_CARD.md").read_text() == member_card
    text = card.read_text()
    assert "ensemble of 2 models (seeds 1, 2): each answer costs 2x one model's compute" in text
    assert "## Scores" not in text and "trained:" not in text and "| test | 91.00" in member_card
    assert text.startswith("# Model card: ensemble\n") and member_card.startswith("# Model card: run1\n")


def test_a_checkpoints_card_reads_its_run_folders_metrics_and_is_named_after_the_run(tmp_path, monkeypatch):
    model = tiny_model(intent=True)
    model.meta.update({"seed": 7})
    run = tmp_path / "atis-run"
    best = model.save(run / "checkpoints" / "epoch=03-val_f1=90.00.pt")
    (run / "metrics.json").write_text(
        json.dumps({"fingerprint": model.fingerprint(), "scores": {"test": {"f1": 91.5}}, "seed": 7})
    )
    text = write_model_card(best, model.card(), model.vocabs.to_dict()).read_text()
    assert text.startswith("# Model card: atis-run, epoch=03-val_f1=90.00.pt") and "| test | 91.50" in text
    monkeypatch.chdir(run)  # slotfill export ckpt=checkpoints/...: the run still named
    text = write_model_card(best.relative_to(run), model.card(), model.vocabs.to_dict()).read_text()
    assert text.startswith("# Model card: atis-run, epoch=03-val_f1=90.00.pt")
    other = tiny_model(seed=3, intent=True)  # another epoch: the run's scores are not its own
    last = other.save(run / "checkpoints" / "last.pt")
    assert "## Scores" not in write_model_card(last, other.card(), other.vocabs.to_dict()).read_text()
