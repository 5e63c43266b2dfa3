"""module.py: training settings, input dropout and what validation scores."""

from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.core.lexicon import BEGIN, INSIDE, OUT
from slotfill.errors import ConfigError
from slotfill.models.encoding import IGNORE
from slotfill.models.slot_model import CHECKPOINT_KEY, SlotModel
from slotfill.training.module import SlotTaggerModule, TrainConfig, lexicon_mask, span_mask
from tests.helpers import TAGS, examples, labelled_batch, tiny_model


def test_word_dropout_and_singleton_replacement_touch_real_words_only():
    model = tiny_model()
    module = SlotTaggerModule(model, TrainConfig(unk_replace=0.0, word_dropout=1.0))
    seen = {}
    forward = model.forward

    def spy(batch):
        seen["words"] = batch["words"]
        return forward(batch)

    model.forward = spy
    module.training_step(labelled_batch(model.vocabs, [["i", "want", "taipei"], ["arrive"]]), 0)
    unk = model.vocabs.words.unk_index
    assert seen["words"].tolist() == [[unk, unk, unk], [unk, 0, 0]]


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.lists(st.sampled_from(TAGS), min_size=1, max_size=8), min_size=1, max_size=4), st.integers(0, 999))
def test_span_dropout_drops_whole_slot_values(sentences, seed):
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


def test_train_config_validates_and_round_trips():
    cfg = TrainConfig.from_dict({"word_dropout": 0.1, "lr_decay": "cosine"})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="train.lr_decay='sine'"):
        TrainConfig(lr_decay="sine")
    with pytest.raises(ConfigError, match="train.word_dropout=2"):
        TrainConfig(word_dropout=2)
    with pytest.raises(ConfigError, match=r"train.mention_swap=1.5: must be in \[0, 1\]"):
        TrainConfig(mention_swap=1.5)
    with pytest.raises(ConfigError, match="train.dropout_words"):
        TrainConfig.from_dict({"dropout_words": 0.1})
    for bad in (0, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="train.average_last=.*: must be a whole number of at least 1"):
            TrainConfig(average_last=bad)


@pytest.mark.parametrize("decay", ["none", "linear", "cosine"])
def test_learning_rate_schedule(decay):
    class Trainer:
        estimated_stepping_batches = 10

    module = SlotTaggerModule(tiny_model(), TrainConfig(lr_decay=decay, warmup_steps=2 if decay != "none" else 0))
    module.trainer = Trainer()
    out = module.configure_optimizers()
    if decay == "none":
        assert isinstance(out, torch.optim.Optimizer)
        return
    sched = out["lr_scheduler"]["scheduler"]
    factors = [sched.lr_lambdas[0](s) for s in range(10)]
    assert factors[0] == pytest.approx(0.5) and factors[1] == pytest.approx(1.0)  # warm-up
    assert factors[-1] < factors[2]


def test_lexicon_dropout_hides_whole_matches():
    lexicon = torch.tensor([[[OUT], [BEGIN], [INSIDE], [INSIDE], [BEGIN], [OUT]]]).repeat(200, 1, 1)
    assert not lexicon_mask(lexicon, 0.0).any()
    assert lexicon_mask(lexicon, 1.0)[0, :, 0].tolist() == [False, True, True, True, True, False]
    drop = lexicon_mask(lexicon, 0.5)[:, :, 0]
    assert torch.equal(drop[:, 1], drop[:, 2]) and torch.equal(drop[:, 2], drop[:, 3])  # one match, one fate
    assert 0.3 < drop[:, 1].float().mean() < 0.7 and not torch.equal(drop[:, 1], drop[:, 4])


class _Trainer:
    """What validation scoring reads of a Lightning trainer."""

    sanity_checking = False
    world_size = 1

    def __init__(self, datamodule, fn: str = "fit") -> None:
        self.datamodule = datamodule
        self.state = SimpleNamespace(fn=fn)


@pytest.mark.parametrize("labelled", [True, False])
def test_a_split_without_intent_labels_scores_slots_only(labelled):
    model = tiny_model(intent=True)
    module = SlotTaggerModule(model)
    gold_tags = [["O", "O", "O", "O", "B-from"]]
    intents = ["flight"] if labelled else [""]  # "": the split has no label file

    class Data:
        def gold(self, split):
            return gold_tags, intents

    module.trainer = _Trainer(Data())
    logged = {}
    module.log = lambda name, value, **kw: logged.__setitem__(name, value)
    batch = labelled_batch(model.vocabs, [["i", "want", "to", "leave", "taipei"]])
    module._eval_step(batch, "val")
    module.on_validation_epoch_end()
    assert ("val/intent_accuracy" in logged) == labelled
    if not labelled:  # monitor=val/joint falls back to slot F1 instead of averaging in a 0.00
        assert logged["val/joint"] == logged["val/f1"]


def test_mean3_scores_smooth_the_last_three_validations_and_survive_a_resume():
    model = tiny_model()
    sentence = ["i", "want", "to", "leave", "taipei"]
    golds = iter([["O", "O", "O", "O", "B-from"]] * 2 + [["O"] * 5] * 3)  # F1 100, 100, then 0

    class Data:
        def gold(self, split):
            return [next(golds)], [""]

    module = SlotTaggerModule(model)
    module.trainer = _Trainer(Data())
    logged = []
    module.log = lambda name, value, **kw: logged.append((name, value))
    module.model.decode = lambda *a, **kw: [{"tags": ["O", "O", "O", "O", "B-from"], "intent": ""}]
    batch = labelled_batch(model.vocabs, [sentence])

    def validate():
        module._eval_step(batch, "val")
        module.on_validation_epoch_end()
        return dict(logged).get("val/f1_mean3")

    assert validate() == 100.0 and validate() == 100.0
    checkpoint = {}
    module.on_save_checkpoint(checkpoint)
    assert validate() == pytest.approx(200 / 3)
    resumed = SlotTaggerModule(model)
    resumed.on_load_checkpoint(checkpoint)
    assert resumed._recent_val["f1"] == [100.0, 100.0]
    assert validate() == pytest.approx(100 / 3)  # 100, 0, 0: only the last three count
    module.trainer.state.fn = "validate"  # re-scoring the selected checkpoint adds no epoch
    logged.clear()
    assert validate() is None and module._recent_val["f1"] == [100.0, 0.0, 0.0]


def _weights(model) -> dict:
    return {k: v.clone() for k, v in model.net.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_without_averaging_a_checkpoint_carries_the_current_weights():
    model = tiny_model()
    module = SlotTaggerModule(model)
    module.trainer = _Trainer(None)
    module._score = lambda prefix, split: None
    module.on_validation_epoch_end()
    checkpoint = {}
    module.on_save_checkpoint(checkpoint)
    assert _same(_weights(SlotModel.from_state(checkpoint[CHECKPOINT_KEY])), _weights(model))


def test_distillation_mixes_the_gold_and_the_teachers_soft_labels():
    student, teacher = tiny_model(seed=0, intent=True, crf=True), tiny_model(seed=1, intent=True, crf=True)
    cfg = dict(unk_replace=0.0, word_dropout=0.0, lexicon_dropout=0.0, distill_weight=0.25)
    module = SlotTaggerModule(student, TrainConfig(**cfg), teacher=teacher)
    plain = SlotTaggerModule(student, TrainConfig(**cfg))
    # the teacher is neither a trained parameter nor part of the checkpoint
    assert {n for n, _ in module.named_parameters()} == {n for n, _ in plain.named_parameters()}
    assert module.state_dict().keys() == plain.state_dict().keys()
    batch = labelled_batch(student.vocabs, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    student.eval()  # no dropout: the steps below see the same network
    module.log = plain.log = lambda *a, **k: None
    mixed = module.training_step(batch, 0)
    gold = plain.training_step(batch, 0)
    emissions, intents = student(batch)
    soft = student.distill_loss(emissions, intents, batch, teacher.soft_labels(batch))
    torch.testing.assert_close(mixed, 0.75 * gold + 0.25 * soft)
    assert not teacher.training
    with pytest.raises(ConfigError, match="train.distill_weight=1.5"):
        TrainConfig(distill_weight=1.5)


def test_distillation_at_a_temperature_softens_both_sides_and_keeps_the_gradient_scale():
    student, teacher = tiny_model(seed=0, intent=True), tiny_model(seed=1, intent=True)
    batch = labelled_batch(student.vocabs, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    t = 3.0
    tags, intents = teacher.soft_labels(batch, t)
    emissions, logits = teacher(batch)
    torch.testing.assert_close(tags, (emissions / t).softmax(-1))
    torch.testing.assert_close(intents, torch.sigmoid(logits / t))
    # the student's loss: both sides' scores divided by T, times T squared (Hinton et al. 2015)
    emissions, logits = student(batch)
    mask = batch["words"] > 0
    per_token = -(tags * (emissions / t).log_softmax(-1)).sum(-1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits / t, intents, reduction="sum") / len(intents)
    expected = t**2 * ((per_token * mask).sum() / mask.sum() + bce)
    torch.testing.assert_close(student.distill_loss(emissions, logits, batch, (tags, intents), t), expected)
    # a student that agrees with its teacher has nothing to learn, at any temperature
    for temperature in (1.0, t):
        emissions, logits = teacher(batch)
        emissions = emissions.detach().requires_grad_()
        soft = teacher.soft_labels(batch, temperature)
        teacher.distill_loss(emissions, logits, batch, soft, temperature).backward()
        assert emissions.grad.abs().max() < 1e-6
    # T squared keeps the gradients about the same size whatever T (without it they shrink as 1 / T squared)
    emissions, logits = student(batch)

    def gradient(temperature):
        e = emissions.detach().requires_grad_()
        student.distill_loss(e, logits.detach(), batch, teacher.soft_labels(batch, temperature), temperature).backward()
        return e.grad.norm()

    assert 0.9 < gradient(20.0) / gradient(10.0) < 1.1
    for bad in (0.0, -1.0, float("nan"), float("inf"), 1e200, "abc", None):
        with pytest.raises(ConfigError, match=r"^train.distill_temperature=.*: must be a number above 0, at most 100$"):
            TrainConfig(distill_temperature=bad)
    assert TrainConfig(distill_temperature="2").distill_temperature == 2.0
    crf = tiny_model(seed=2, intent=True, crf=True)
    with pytest.raises(ConfigError, match="a CRF's marginals take no temperature"):
        crf.soft_labels(batch, t)
    with pytest.raises(ConfigError, match="a CRF's loss takes no temperature"):
        crf.distill_loss(*crf(batch), batch, (tags, intents), t)


def test_a_training_step_at_a_temperature_mixes_the_gold_and_the_tempered_soft_labels():
    student, teacher = tiny_model(seed=0, intent=True), tiny_model(seed=1, intent=True)
    cfg = dict(unk_replace=0.0, word_dropout=0.0, lexicon_dropout=0.0, distill_weight=0.25, distill_temperature=3.0)
    module = SlotTaggerModule(student, TrainConfig(**cfg), teacher=teacher)
    plain = SlotTaggerModule(student, TrainConfig(**cfg))
    batch = labelled_batch(student.vocabs, [["i", "want", "taipei"], ["arrive", "in", "new", "york"]])
    module.log = plain.log = lambda *a, **k: None
    mixed, gold = module.training_step(batch, 0), plain.training_step(batch, 0)
    emissions, intents = student(batch)
    soft = student.distill_loss(emissions, intents, batch, teacher.soft_labels(batch, 3.0), 3.0)
    torch.testing.assert_close(mixed, 0.75 * gold + 0.25 * soft)
    untempered = student.distill_loss(emissions, intents, batch, teacher.soft_labels(batch), 1.0)
    assert not torch.allclose(soft, untempered)


def test_the_teacher_reads_the_same_damaged_sentence_as_the_student():
    student, teacher = (tiny_model(seed=s, lexicon=True, intent=True) for s in (0, 1))
    cfg = TrainConfig(unk_replace=0.0, word_dropout=1.0, lexicon_dropout=1.0)
    module = SlotTaggerModule(student, cfg, teacher=teacher)
    module.log = lambda *a, **k: None
    batch = labelled_batch(student.vocabs, [["i", "want", "taipei"], ["arrive"]])
    assert (batch["lexicon"] != OUT).any()  # "taipei" is in the city list
    seen = {}
    for name, model in (("student", student), ("teacher", teacher)):
        forward = model.forward

        def spy(inputs, name=name, forward=forward):
            seen[name] = inputs
            return forward(inputs)

        model.forward = spy
    module.training_step(batch, 0)
    unk = student.vocabs.words.unk_index
    assert seen["student"]["words"].tolist() == [[unk, unk, unk], [unk, 0, 0]]
    assert not torch.equal(seen["student"]["lexicon"], batch["lexicon"])  # its matches hidden
    for key in ("words", "lexicon"):
        assert torch.equal(seen["teacher"][key], seen["student"][key])


def test_a_divergence_names_the_best_epoch_it_leaves_behind():
    optimizer = SimpleNamespace(param_groups=[{"lr": 0.002}])
    trainer = SimpleNamespace(global_step=40, current_epoch=3, optimizers=[optimizer], gradient_clip_val=5.0)
    loss = torch.tensor(float("nan"))
    for best, said in (("", False), ("run/checkpoints/epoch=01-val_f1=8.89.ckpt", True)):
        trainer.checkpoint_callback = SimpleNamespace(best_model_path=best)
        message = SlotTaggerModule._divergence_message(SimpleNamespace(_trainer=trainer), loss)
        assert message.startswith("training diverged: the loss is nan at step 40 (epoch 3); lower optimizer.lr")
        assert ("the best epoch so far is kept: run/checkpoints/epoch=01" in message) == said
