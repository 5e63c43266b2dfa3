"""models/net.py: the network's shapes, padding, gradients, intent heads and decoding."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.errors import ConfigError
from slotfill.models import NetConfig, SlotNet, bio_allowed, decode_intents, decode_tags
from tests.helpers import TAGS, examples, labelled_batch, tiny_vocabs


def _net(**kw):
    v = tiny_vocabs()
    cfg = NetConfig(word_dim=8, hidden_size=6, char_dim=kw.pop("char_dim", 4), char_filters=5, **kw)
    net = SlotNet(cfg, len(v.words), len(v.chars), v.tags.itos, len(v.intents))
    return net.eval(), v


def _batch(v, sentences):
    return labelled_batch(v, sentences)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("crf", [False, True])
def test_output_shapes(cell, crf):
    net, v = _net(cell=cell, crf=crf, intent=True)
    b = _batch(v, [["i", "want", "boston"], ["arrive", "in", "new", "york", "now"]])
    em, intent = net(b["words"], b["chars"], b["char_index"], b["lengths"])
    assert em.shape == (2, 5, len(v.tags))
    assert intent.shape == (2, len(v.intents))
    mask = torch.arange(5)[None] < b["lengths"][:, None]
    assert decode_tags(em, mask, net.decode_params()).shape == (2, 5)
    loss = net.loss(em, intent, b["tags"], b["intents"], mask)
    assert loss.ndim == 0 and torch.isfinite(loss)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("co_interaction", [False, True])
def test_padding_does_not_change_logits(cell, co_interaction):
    net, v = _net(cell=cell, intent=True, co_interaction=co_interaction)
    short = ["i", "want", "taipei"]
    alone = _batch(v, [short])
    padded = _batch(v, [short, ["arrive", "in", "new", "york", "on", "a", "long", "day"]])
    em1, in1 = net(alone["words"], alone["chars"], alone["char_index"], alone["lengths"])
    em2, in2 = net(padded["words"], padded["chars"], padded["char_index"], padded["lengths"])
    torch.testing.assert_close(em1[0], em2[0, :3])
    torch.testing.assert_close(in1[0], in2[0])


# co_interaction with a detached intent head is refused (tests below), so it has no case here
HEADS = [
    (encoder, to_slot, co)
    for encoder in ("shared", "detached", "separate", "cnn")
    for to_slot, co in ((False, False), (True, False), (True, True))
    if not (co and encoder == "detached")
]


@pytest.mark.parametrize("intent_encoder, intent_to_slot, co_interaction", HEADS)
def test_every_parameter_gets_a_gradient(intent_encoder, intent_to_slot, co_interaction):
    net, v = _net(
        crf=True,
        intent=True,
        intent_encoder=intent_encoder,
        intent_to_slot=intent_to_slot,
        co_interaction=co_interaction,
    )
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


def test_a_detached_intent_head_reads_the_slot_encoder_without_training_it():
    net, v = _net(intent=True, intent_encoder="detached")
    b = _batch(v, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    _, intent = net(b["words"], b["chars"], b["char_index"], b["lengths"])
    intent.sum().backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    assert net.word_embed.weight.grad is None  # nothing below the head learns from the intent
    assert net.intent_head.weight.grad is not None
    shared, _ = _net(intent=True, intent_encoder="shared")
    shared.load_state_dict(net.state_dict())  # the same weights as the shared head: only training differs
    torch.testing.assert_close(shared(b["words"], b["chars"], b["char_index"], b["lengths"])[1], intent)


def test_the_separate_intent_encoder_has_its_own_size():
    net, v = _net(intent=True, intent_encoder="separate", intent_hidden_size=3)
    assert net.intent_encoder.out_dim == 6 and net.intent_head.in_features == 12
    with pytest.raises(ConfigError, match="model.intent_hidden_size=0"):
        NetConfig(intent_hidden_size=0)


def test_a_setting_added_since_format_3_is_left_out_at_its_default():
    # the settings (and so the fingerprint) of a model trained before it read the same
    assert "intent_hidden_size" not in NetConfig().to_dict()
    assert NetConfig(intent_hidden_size=64).to_dict()["intent_hidden_size"] == 64
    assert NetConfig.from_dict(NetConfig(intent_hidden_size=64).to_dict()).intent_hidden_size == 64


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


def test_co_interaction_makes_each_task_read_the_other():
    net, v = _net(intent=True, intent_encoder="separate", co_interaction=True)
    b = _batch(v, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    args = (b["words"], b["chars"], b["char_index"], b["lengths"])
    em, intent = net(*args)
    # the slot scores move with the intent encoder's weights, the intent logits with the slot encoder's
    with torch.no_grad():
        net.intent_encoder.rnn.weight_ih_l0.mul_(2)
    em2, _ = net(*args)
    assert not torch.allclose(em, em2)
    with torch.no_grad():
        net.intent_encoder.rnn.weight_ih_l0.div_(2)
        net.encoder.rnn.weight_ih_l0.mul_(2)
    _, intent2 = net(*args)
    assert not torch.allclose(intent, intent2)
    # models trained before it: the setting reads as absent at its default (fingerprints unchanged)
    assert "co_interaction" not in NetConfig().to_dict()
    with pytest.raises(ConfigError, match="co_interaction=true needs the intent head"):
        NetConfig(co_interaction=True)
    with pytest.raises(ConfigError, match="cannot be model.intent_encoder=detached"):
        NetConfig(intent=True, intent_encoder="detached", co_interaction=True)


def test_co_interaction_leaves_the_other_weights_initialised_as_without_it():
    torch.manual_seed(0)
    plain, _ = _net(intent=True, intent_encoder="separate")
    torch.manual_seed(0)
    joint, _ = _net(intent=True, intent_encoder="separate", co_interaction=True)
    other = joint.state_dict()
    for name, value in plain.state_dict().items():
        if not name.startswith("intent_head"):  # it reads the interaction's features: another input
            assert torch.equal(value, other[name]), name


def test_intent_sets_decode_to_seen_combinations_only():
    probs = torch.tensor([[0.9, 0.6, 0.1], [0.2, 0.3, 0.1], [0.4, 0.45, 0.9], [0.9, 0.1, 0.8]])
    # thresholding: each atom on its own (at least the likeliest one)
    assert decode_intents(probs) == [[0, 1], [1], [2], [0, 2]]
    # sets: the likeliest combination seen in training; [0, 2] was never seen
    assert decode_intents(probs, [[0], [1], [0, 1], [2]]) == [[0, 1], [1], [2], [0]]


@settings(max_examples=examples(50), deadline=None)
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


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None)
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


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"cell": "transformer"}, "model.cell='transformer'"),
        ({"hidden_size": 0}, "model.hidden_size=0"),
        ({"dropout": 1.5}, "model.dropout=1.5"),
        ({"char_dim": 4, "char_filters": 0}, "model.char_filters"),
        ({"char_dim": 4, "char_kernel": 2}, "model.char_kernel=2: an odd width"),
    ],
)
def test_bad_settings_are_config_errors(setting, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        NetConfig(**setting)
    with pytest.raises(ConfigError, match="model.nonsense"):
        NetConfig.from_dict({"nonsense": 1})


@pytest.mark.parametrize("crf", [False, True])
def test_the_soft_loss_on_the_gold_labels_is_the_loss(crf):
    net, v = _net(crf=crf, intent=True, intent_encoder="separate")
    from slotfill.models.encoding import collate, encode_example

    sentences = [(["i", "want", "taipei"], ["O", "O", "B-to"]), (["to", "new", "york"], ["O", "B-to", "I-to"])]
    b = collate([encode_example(t, g, "flight", v, i) for i, (t, g) in enumerate(sentences)])
    assert (b["tags"] > 0).sum() == 3  # slots, not only O
    em, intent = net(b["words"], b["chars"], b["char_index"], b["lengths"])
    mask = torch.arange(em.shape[1])[None] < b["lengths"][:, None]
    one_hot = torch.nn.functional.one_hot(b["tags"].clamp(min=0), len(v.tags)).float()
    soft = net.soft_loss(em, intent, one_hot, b["intents"], mask)
    torch.testing.assert_close(soft, net.loss(em, intent, b["tags"], b["intents"], mask))


def test_a_forget_bias_for_a_cell_without_a_forget_gate_is_refused():
    """model.cell=gru model.forget_bias=5 was saved in the model file and its fingerprint, and did nothing."""
    with pytest.raises(ConfigError, match="model.forget_bias=5.0: the LSTM's forget gate; model.cell=gru has none"):
        NetConfig.from_dict({"cell": "gru", "forget_bias": 5.0})
    assert NetConfig.from_dict({"cell": "gru"}).forget_bias == 1.0
    assert NetConfig.from_dict({"cell": "gru", "forget_bias": 5.0}, saved=True).cell == "gru"  # a file loads as written
