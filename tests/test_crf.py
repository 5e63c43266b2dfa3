"""models/crf.py: the CRF against an oracle and brute force; fast constrained Viterbi."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.models import CRF, bio_allowed, decode_tags
from tests.helpers import TAGS, examples


def test_crf_matches_pytorch_crf_oracle():
    torchcrf = pytest.importorskip("torchcrf")
    torch.manual_seed(0)
    crf = CRF(["O", "B-a", "B-b"])  # no I- tags: no constraints, so both CRFs define the same model
    with torch.no_grad():
        crf.transitions.normal_()
        crf.start.normal_()
        crf.end.normal_()
    oracle = torchcrf.CRF(3, batch_first=True)
    with torch.no_grad():
        oracle.transitions.copy_(crf.transitions)
        oracle.start_transitions.copy_(crf.start)
        oracle.end_transitions.copy_(crf.end)
    em = torch.randn(4, 6, 3)
    lengths = torch.tensor([6, 3, 1, 5])
    mask = torch.arange(6)[None] < lengths[:, None]
    tags = torch.randint(0, 3, (4, 6)).masked_fill(~mask, 0)
    torch.testing.assert_close(crf.nll(em, tags, mask), -oracle(em, tags, mask, reduction="sum"))
    ours = crf.decode(em, mask)
    theirs = oracle.decode(em, mask)
    for b in range(4):
        assert ours[b, : lengths[b]].tolist() == theirs[b]


def test_crf_marginals_are_probabilities_and_match_brute_force():
    import itertools

    torch.manual_seed(1)
    tags = ["O", "B-a", "I-a"]
    crf = CRF(tags)
    with torch.no_grad():
        crf.transitions.normal_()
    em = torch.randn(2, 3, 3)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    marg = crf.marginals(em, mask)
    trans, start, end = crf._scores()
    for b, n in enumerate([3, 2]):
        scores = {}
        for path in itertools.product(range(3), repeat=n):
            s = start[path[0]] + em[b, 0, path[0]] + end[path[-1]]
            for t in range(1, n):
                s = s + trans[path[t - 1], path[t]] + em[b, t, path[t]]
            scores[path] = s
        z = torch.logsumexp(torch.stack(list(scores.values())), 0)
        for t in range(n):
            for k in range(3):
                p = sum((s - z).exp() for path, s in scores.items() if path[t] == k)
                assert abs(float(p.detach()) - float(marg[b, t, k])) < 1e-4


@settings(max_examples=examples(40), deadline=None)
@given(st.integers(1, 4), st.integers(1, 9), st.integers(0, 10_000))
def test_fast_constrained_viterbi_equals_full_viterbi(batch, length, seed):
    from slotfill.models.crf import constrained_viterbi, constraint_structure, viterbi

    tags = TAGS + ["B-solo", "I-orphan"]  # an I- tag whose B- tag training never saw
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, length, len(tags), generator=g).log_softmax(-1)
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    mask = torch.arange(length)[None] < lengths[:, None]
    allowed, start = bio_allowed(tags)
    trans = (~allowed).float() * -1e4
    start_pen = (~start).float() * -1e4
    full = viterbi(scores, mask, trans, start_pen, torch.zeros(len(tags)))
    fast = constrained_viterbi(scores, mask, start_pen, constraint_structure(trans))
    assert torch.equal(full, fast)
    # decode_tags takes the per-token argmax where it is well-formed, Viterbi elsewhere
    params = {"trans": trans, "start": start_pen, "end": torch.zeros(len(tags)), "log_softmax": True}
    assert torch.equal(decode_tags(scores, mask, params), full)


@settings(max_examples=examples(20), deadline=None)
@given(seed=st.integers(0, 10_000))
def test_soft_nll_on_one_hot_labels_is_the_nll_and_its_gradient_is_marginals_minus_labels(seed):
    g = torch.Generator().manual_seed(seed)
    crf = CRF(TAGS)
    with torch.no_grad():
        crf.transitions.normal_(generator=g)
        crf.start.normal_(generator=g)
        crf.end.normal_(generator=g)
    lengths = torch.tensor([5, 2, 1])
    mask = torch.arange(5)[None] < lengths[:, None]
    em = torch.randn(3, 5, len(TAGS), generator=g)
    gold = decode_tags(
        torch.randn(3, 5, len(TAGS), generator=g),
        mask,
        dict(zip(("trans", "start", "end"), crf._scores()), log_softmax=False),
    )
    one_hot = torch.nn.functional.one_hot(gold, len(TAGS)).float()
    torch.testing.assert_close(crf.soft_nll(em, one_hot, mask), crf.nll(em, gold, mask))
    # against soft labels, the emissions' gradient is the CRF's marginals minus the labels
    soft = torch.softmax(torch.randn(3, 5, len(TAGS), generator=g), -1)
    em = em.requires_grad_()
    crf.soft_nll(em, soft, mask).backward()
    expected = (crf.marginals(em.detach(), mask) - soft) * mask[..., None]
    torch.testing.assert_close(em.grad, expected, atol=1e-4, rtol=1e-4)


def test_soft_labels_on_a_first_tag_bio_forbids_add_no_penalty():
    crf = CRF(TAGS)  # I- tags may not start a sentence
    em = torch.zeros(1, 3, len(TAGS))
    mask = torch.ones(1, 3, dtype=torch.bool)
    uniform = torch.full((1, 3, len(TAGS)), 1 / len(TAGS))
    assert crf.soft_nll(em, uniform, mask) < 10  # the -1e4 constraint is not a score to expect


def test_soft_nll_is_blind_to_a_shift_of_every_allowed_transition_as_the_nll_is():
    """A teacher unsure between tags puts some mass on forbidden pairs (O then I-x): the expected score
    counted only the allowed share of a shift while log Z moved by all of it, so the distillation loss
    fell without bound as every allowed transition drifted down."""
    g = torch.Generator().manual_seed(0)
    crf = CRF(TAGS)
    lengths = torch.tensor([6, 3])
    mask = torch.arange(6)[None] < lengths[:, None]
    em = torch.randn(2, 6, len(TAGS), generator=g)
    soft = torch.softmax(torch.randn(2, 6, len(TAGS), generator=g), -1)
    gold = torch.zeros(2, 6, dtype=torch.long)
    before = crf.soft_nll(em, soft, mask), crf.nll(em, gold, mask)
    allowed_first = crf.start_penalty == 0
    with torch.no_grad():
        crf.transitions.sub_(5.0 * (crf.trans_penalty == 0))
        crf.start.sub_(5.0 * allowed_first)
    after = crf.soft_nll(em, soft, mask), crf.nll(em, gold, mask)
    torch.testing.assert_close(after[1], before[1], atol=1e-3, rtol=1e-4)  # the gold loss does not see it
    torch.testing.assert_close(after[0], before[0], atol=1e-3, rtol=1e-4)


def test_soft_nll_stays_blind_to_a_shift_when_the_teacher_is_sure_of_an_ill_formed_pair():
    """A softmax teacher sure of O then I-x leaves the allowed pairs a mass float32 rounds to 0: that
    position counted a shift of the transitions for nothing, and the loss fell without bound again."""
    crf = CRF(TAGS)
    i_tag = next(i for i, t in enumerate(TAGS) if t.startswith("I-"))
    logits = torch.zeros(1, 3, len(TAGS))
    logits[0, 0, TAGS.index("O")] = 120.0  # exp(-120) is 0 in float32
    logits[0, 1:, i_tag] = 120.0
    soft = torch.softmax(logits, -1)
    em = torch.randn(1, 3, len(TAGS), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(1, 3, dtype=torch.bool)
    before = crf.soft_nll(em, soft, mask)
    with torch.no_grad():
        crf.transitions.sub_(50.0 * (crf.trans_penalty == 0))
        crf.start.sub_(50.0 * (crf.start_penalty == 0))
    torch.testing.assert_close(crf.soft_nll(em, soft, mask), before, atol=1e-2, rtol=1e-4)


def test_soft_nll_of_a_batch_with_an_all_padding_row_is_finite():
    crf = CRF(TAGS)
    em = torch.randn(2, 3, len(TAGS), generator=torch.Generator().manual_seed(2))
    soft = torch.softmax(torch.randn(2, 3, len(TAGS), generator=torch.Generator().manual_seed(3)), -1)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert torch.isfinite(crf.soft_nll(em, soft, mask))
