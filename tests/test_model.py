import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.encoding import IGNORE, collate, encode_example
from slotfill.errors import ConfigError
from slotfill.models import CRF, NetConfig, SlotNet, bio_allowed, decode_intents, decode_tags
from slotfill.vocab import Vocabularies

TAGS = ["O", "B-from", "I-from", "B-to", "I-to"]


def _vocabs():
    tokens = [["i", "want", "to", "leave", "taipei"], ["arrive", "in", "new", "york"]]
    tags = [["O", "O", "O", "O", "B-from"], ["O", "O", "B-to", "I-to"]]
    return Vocabularies.from_training_data(tokens, tags, ["flight", "flight#airfare"])


def _net(**kw):
    v = _vocabs()
    cfg = NetConfig(word_dim=8, hidden_size=6, char_dim=kw.pop("char_dim", 4), char_filters=5, **kw)
    net = SlotNet(cfg, len(v.words), len(v.chars), v.tags.itos, len(v.intents))
    return net.eval(), v


def _batch(v, sentences):
    return collate([encode_example(s, ["O"] * len(s), "flight", v, i) for i, s in enumerate(sentences)])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("crf", [False, True])
def test_output_shapes(cell, crf):
    net, v = _net(cell=cell, crf=crf, intent=True)
    b = _batch(v, [["i", "want", "boston"], ["arrive", "in", "new", "york", "now"]])
    em, intent = net(b["words"], b["chars"], b["char_index"], b["lengths"])
    assert em.shape == (2, 5, len(v.tags))
    assert intent.shape == (2, len(v.intents))
    mask = torch.arange(5)[None] < b["lengths"][:, None]
    assert net.decode(em, mask).shape == (2, 5)
    loss = net.loss(em, intent, b["tags"], b["intents"], mask)
    assert loss.ndim == 0 and torch.isfinite(loss)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_padding_does_not_change_logits(cell):
    net, v = _net(cell=cell, intent=True)
    short = ["i", "want", "taipei"]
    alone = _batch(v, [short])
    padded = _batch(v, [short, ["arrive", "in", "new", "york", "on", "a", "long", "day"]])
    em1, in1 = net(alone["words"], alone["chars"], alone["char_index"], alone["lengths"])
    em2, in2 = net(padded["words"], padded["chars"], padded["char_index"], padded["lengths"])
    torch.testing.assert_close(em1[0], em2[0, :3])
    torch.testing.assert_close(in1[0], in2[0])


def test_forget_gate_bias_starts_open():
    net, _ = _net(forget_bias=1.0)
    rnn = net.encoder.rnn
    h = rnn.hidden_size
    for layer in range(rnn.num_layers):
        total = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
        assert torch.allclose(total[h : 2 * h], torch.ones(h))
        assert not torch.allclose(total[:h], torch.ones(h))


def test_stacked_bidirectional_by_default():
    cfg = NetConfig()
    assert cfg.num_layers >= 2 and cfg.bidirectional and cfg.cell == "lstm" and cfg.forget_bias == 1.0


@pytest.mark.parametrize("intent_encoder", ["shared", "separate"])
@pytest.mark.parametrize("intent_to_slot", [False, True])
def test_every_parameter_gets_a_gradient(intent_encoder, intent_to_slot):
    net, v = _net(crf=True, intent=True, intent_encoder=intent_encoder, intent_to_slot=intent_to_slot)
    net.train()
    b = _batch(v, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    em, intent = net(b["words"], b["chars"], b["char_index"], b["lengths"])
    mask = torch.arange(em.shape[1])[None] < b["lengths"][:, None]
    net.loss(em, intent, b["tags"], b["intents"], mask).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing


def test_separate_intent_encoder_leaves_the_slot_encoder_to_the_slots():
    net, v = _net(intent=True, intent_encoder="separate")
    b = _batch(v, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    _, intent = net(b["words"], b["chars"], b["char_index"], b["lengths"])
    intent.sum().backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    assert all(p.grad is None for p in net.tag_head.parameters())
    assert net.word_embed.weight.grad is not None  # the embeddings are shared
    with pytest.raises(ConfigError, match="intent_encoder"):
        NetConfig(intent_encoder="pooled")


def test_intent_to_slot_shifts_every_token_by_the_intent():
    net, v = _net(intent=True, intent_encoder="separate", intent_to_slot=True)
    b = _batch(v, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    args = (b["words"], b["chars"], b["char_index"], b["lengths"])
    em, intent = net(*args)
    shift = net.intent_to_tag(torch.sigmoid(intent))
    net.intent_to_tag = None
    plain, same_intent = net(*args)
    torch.testing.assert_close(em, plain + shift[:, None, :])
    torch.testing.assert_close(intent, same_intent)
    # the slot loss reaches the intent head through the shift
    net2, _ = _net(intent=True, intent_encoder="separate", intent_to_slot=True)
    em, _ = net2(*args)
    em.sum().backward()
    assert net2.intent_head.weight.grad is not None and net2.intent_head.weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="intent_to_slot"):
        NetConfig(intent_to_slot=True)


def test_unseen_labels_are_ignored_not_dropped():
    v = _vocabs()
    ex = encode_example(["go", "to", "mars"], ["O", "O", "B-planet"], "space#flight", v, 0)
    assert ex["tags"].tolist() == [0, 0, IGNORE]
    assert ex["intents"].sum() == 1  # the known atom "flight" only
    assert ex["words"].tolist() == [v.words.unk_index, v.words.index("to"), v.words.unk_index]


def test_vocab_round_trip():
    v = _vocabs()
    w = Vocabularies.from_dict(v.to_dict())
    assert w.words.itos == v.words.itos and w.tags.itos == v.tags.itos and w.intents.itos == v.intents.itos
    assert w.singletons == v.singletons
    assert set(v.intents.itos) == {"flight", "airfare"}
    flight, airfare = v.intents.stoi["flight"], v.intents.stoi["airfare"]
    assert w.intent_sets == v.intent_sets == sorted([[flight], sorted([flight, airfare])])
    old = v.to_dict()
    del old["intent_sets"]  # checkpoints written before set decoding
    assert Vocabularies.from_dict(old).intent_sets == []


def test_intent_sets_decode_to_seen_combinations_only():
    probs = torch.tensor([[0.9, 0.6, 0.1], [0.2, 0.3, 0.1], [0.4, 0.45, 0.9], [0.9, 0.1, 0.8]])
    # thresholding: each atom on its own (at least the likeliest one)
    assert decode_intents(probs) == [[0, 1], [1], [2], [0, 2]]
    # sets: the likeliest combination seen in training; [0, 2] was never seen
    assert decode_intents(probs, [[0], [1], [0, 1], [2]]) == [[0, 1], [1], [2], [0]]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6))
def test_intent_set_decoding_picks_the_likeliest_seen_set(seed, n_atoms):
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(3, n_atoms, generator=g)
    sets = sorted({tuple(sorted(set(torch.randint(0, n_atoms, (k,), generator=g).tolist()))) for k in (1, 1, 2, 3)})
    sets = [list(s) for s in sets]

    def likelihood(row, atoms):
        return torch.where(torch.isin(torch.arange(n_atoms), torch.tensor(atoms)), probs[row], 1 - probs[row]).prod()

    for row, picked in enumerate(decode_intents(probs, sets)):
        assert sorted(picked) in sets
        best = max(likelihood(row, s) for s in sets)
        assert likelihood(row, picked) >= best * (1 - 1e-6)


def _is_well_formed(tags):
    prev = "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            return False
        prev = t
    return True


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 7), st.integers(0, 10_000), st.booleans())
def test_decoding_is_always_well_formed(batch, length, seed, log_softmax):
    g = torch.Generator().manual_seed(seed)
    em = torch.randn(batch, length, len(TAGS), generator=g) * 5
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    mask = torch.arange(length)[None] < lengths[:, None]
    allowed, start = bio_allowed(TAGS)
    params = {
        "trans": (~allowed).float() * -1e4 + torch.randn(len(TAGS), len(TAGS), generator=g),
        "start": (~start).float() * -1e4,
        "end": torch.zeros(len(TAGS)),
        "log_softmax": log_softmax,
    }
    out = decode_tags(em, mask, params)
    for b in range(batch):
        assert _is_well_formed([TAGS[i] for i in out[b, : lengths[b]].tolist()])


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
                assert abs(float(p) - float(marg[b, t, k])) < 1e-4


@settings(max_examples=40, deadline=None)
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


def test_word_dropout_and_singleton_replacement_touch_real_words_only():
    from slotfill.module import SlotTaggerModule

    v = _vocabs()
    seen = {}
    module = SlotTaggerModule(NetConfig(word_dim=8, hidden_size=6).to_dict(), v, unk_replace=0.0, word_dropout=1.0)
    forward = module.net.forward

    def spy(words, *args):
        seen["words"] = words
        return forward(words, *args)

    module.net.forward = spy
    b = collate(
        [
            encode_example(["i", "want", "taipei"], ["O"] * 3, "flight", v, 0),
            encode_example(["arrive"], ["O"], "flight", v, 1),
        ]
    )
    module.training_step(b, 0)
    unk = v.words.unk_index
    assert seen["words"].tolist() == [[unk, unk, unk], [unk, 0, 0]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TAGS), min_size=1, max_size=8), min_size=1, max_size=4), st.integers(0, 999))
def test_span_dropout_drops_whole_slot_values(sentences, seed):
    from slotfill.module import span_mask

    torch.manual_seed(seed)
    ids = {t: i for i, t in enumerate(TAGS)}
    T = max(len(s) for s in sentences)
    tags = torch.tensor([[ids[t] for t in s] + [IGNORE] * (T - len(s)) for s in sentences])
    begins = torch.tensor([t.startswith("B-") for t in TAGS])
    assert not span_mask(tags, begins, 0.0).any()
    assert span_mask(tags, begins, 1.0).tolist() == [
        [t not in ("O", None) for t in s] + [False] * (T - len(s)) for s in sentences
    ]
    drop = span_mask(tags, begins, 0.5)
    for row, s in zip(drop.tolist(), sentences):
        for t in range(1, len(s)):
            if s[t].startswith("I-") and s[t - 1] != "O":  # a continuation shares its chunk's fate
                assert row[t] == row[t - 1]
        assert not any(d and tag == "O" for d, tag in zip(row, s))
