"""numpy_decode.py: numpy decoding gives what the torch decoding gives."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.inference.numpy_decode import (
    NEG,
    confidences,
    crf_marginals,
    decode_intents,
    decode_tags,
    kbest,
    viterbi,
)
from slotfill.models import decode_intents as torch_intents
from slotfill.models import decode_tags as torch_decode
from tests.helpers import examples, tiny_model


def _params(model):
    p = model.net.decode_params()
    numpy = {k: p[k].numpy().astype(np.float32) for k in ("trans", "start", "end")}
    return p, {**numpy, "log_softmax": p["log_softmax"]}


def _batch(seed, K, B=16, T=9):
    g = torch.Generator().manual_seed(seed)
    emissions = torch.randn(B, T, K, generator=g) * 3
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return emissions, mask


@pytest.mark.parametrize("crf", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_tags_match_torch(crf, seed):
    model = tiny_model(crf=crf)
    torch_params, params = _params(model)
    if crf:  # trained-looking transitions, not zeros
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            model.net.crf.transitions.copy_(torch.randn(model.net.crf.transitions.shape, generator=g))
        torch_params, params = _params(model)
    emissions, mask = _batch(seed, len(model.tags))
    expected = torch_decode(emissions, mask, torch_params)
    got = decode_tags(emissions.numpy(), mask.numpy(), params)
    assert (got == expected.numpy()).all()
    if crf:
        p = crf_marginals(emissions.numpy(), mask.numpy(), params)
        assert np.allclose(p, model.net.crf.marginals(emissions, mask).numpy(), atol=1e-4)
    conf = confidences(emissions.numpy(), mask.numpy(), got, params)
    assert ((conf > 0) & (conf <= 1 + 1e-6)).all()


def test_intent_sets_match_torch():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(20, 4, generator=g)
    sets = [[0], [1], [0, 2], [3]]
    assert decode_intents(probs.numpy(), sets) == torch_intents(probs, sets)
    assert decode_intents(probs.numpy(), None) == torch_intents(probs, None)


def _brute_force(scores, trans, start, end):
    T, K = scores.shape
    out = []
    for path in itertools.product(range(K), repeat=T):
        s = start[path[0]] + scores[0, path[0]] + end[path[-1]]
        s += sum(trans[a, b] + scores[t + 1, b] for t, (a, b) in enumerate(zip(path, path[1:])))
        if s > NEG / 2:
            out.append((list(path), float(s)))
    return sorted(out, key=lambda x: -x[1])


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(1, 4), st.integers(2, 4), st.integers(1, 6), st.integers(0, 10_000), st.booleans())
def test_kbest_equals_brute_force_enumeration(T, K, k, seed, forbid):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(T, K)).astype(np.float64)
    trans = rng.normal(size=(K, K))
    if forbid:
        trans[0, 1] = NEG  # a forbidden transition, as the BIO constraints make them
    start, end = rng.normal(size=K), rng.normal(size=K)
    got = kbest(scores, trans, start, end, k)
    want = _brute_force(scores, trans, start, end)[:k]
    assert [s for _, s in got] == pytest.approx([s for _, s in want])
    assert len({tuple(p) for p, _ in got}) == len(got)  # distinct paths
    for path, score in got:  # each path's score is its own
        assert score == pytest.approx(next(s for p, s in _brute_force(scores, trans, start, end) if p == path))
    if got:
        assert got[0][0] == viterbi(scores[None], np.ones((1, T), bool), trans, start, end)[0].tolist()
