"""probe.py: generated long-range data, the small training loop, F1 by distance, gradient norms."""

import math

import pytest
from probe import (
    CUES,
    FILLERS,
    f1_by_distance,
    gradient_norms,
    probe_data,
    probe_model,
    train_probe,
)


def test_probe_sentences_put_k_fillers_between_cue_and_city():
    data = probe_data(40, [0, 3, 7], seed=1)
    assert {k for _, _, k in data} == {0, 3, 7}
    for tokens, tags, k in data:
        cue = tokens[3]
        assert tokens[4 : 4 + k] == tokens[4:-1] and all(w in FILLERS for w in tokens[4:-1]) and len(tokens) == 5 + k
        assert tags[:-1] == ["O"] * (len(tags) - 1) and tags[-1] == f"B-{CUES[cue]}"
    assert sum(t[3] == "leave" for t, _, _ in data) == 20  # cues balanced


def test_a_probe_model_trains_and_is_scored_by_distance():
    model = probe_model("lstm", hidden=8, seed=0)
    train, test = probe_data(32, [0, 2], seed=1), probe_data(8, [0, 2], seed=2)
    history = train_probe(model, train, steps=2, batch_size=8, every=1, valid=test)
    assert [h["step"] for h in history] == [0, 1, 2] and math.isnan(history[0]["loss"]) and history[1]["loss"] > 0
    assert set(f1_by_distance(model, test)) == {0, 2}
    assert not model.training


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_gradient_norms_one_per_position(cell):
    model = probe_model(cell, hidden=8, seed=0)
    norms = gradient_norms(model, probe_data(10, [6], seed=3))
    assert len(norms) == 11 and all(n >= 0 and math.isfinite(n) for n in norms) and norms[0] > 0
    with pytest.raises(ValueError, match="one length"):
        gradient_norms(model, probe_data(10, [1, 2], seed=3))


def test_forget_bias_reaches_the_lstm():
    model = probe_model("lstm", hidden=4, forget_bias=3.0)
    bias = dict(model.net.encoder.rnn.named_parameters())["bias_ih_l0"]
    assert bias[4:8].tolist() == [3.0] * 4
