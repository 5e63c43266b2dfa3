"""conf/: every group option and preset composes into objects slotfill builds, and every option is used."""

import re
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from slotfill.cli.options import TRAIN_KEYS
from slotfill.data.load import DATA_KEYS
from slotfill.errors import ConfigError
from slotfill.integrations.ray_engine import RaySettings
from slotfill.models import NetConfig
from slotfill.training.datamodule import SlotDataModule
from slotfill.training.module import TrainConfig
from tests.helpers import CONF, ROOT, compose_config

GROUPS = {
    group.name: sorted(p.stem for p in group.glob("*.yaml")) for group in sorted(CONF.iterdir()) if group.is_dir()
}


CHOICES = [(g, o) for g, options in GROUPS.items() for o in options]


def _plain(node):
    return OmegaConf.to_container(node, resolve=True)


@pytest.mark.parametrize("group, option", CHOICES, ids=[f"{g}={o}" for g, o in CHOICES])
def test_every_group_option_builds(group, option, tmp_path):
    if group == "logger" and option == "tensorboard":
        pytest.importorskip("tensorboard")
    cfg = compose_config([f"{group}={option}"], tmp_path)
    NetConfig.from_dict(_plain(cfg.model))
    TrainConfig.from_dict(_plain(cfg.train))
    SlotDataModule.from_config(_plain(cfg.data))
    instantiate(cfg.optimizer)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    loggers = [instantiate(c) for c in cfg.logger.values()]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    assert trainer.max_epochs == cfg.trainer.max_epochs


@pytest.mark.slow
def test_presets_choose_what_they_say():
    atis = compose_config(["experiment=atis"], Path("x"))
    assert atis.model.crf and atis.model.intent and atis.model.intent_to_slot and atis.monitor == "val/joint"
    assert atis.model.co_interaction and not compose_config([], Path("x")).model.co_interaction
    assert atis.train.span_dropout > 0 and atis.train.lr_decay == "cosine" and atis.data.benchmark == "atis"
    default = compose_config([], Path("x"))
    assert atis.model.lexicons == default.model.lexicons and atis.model.lexicons  # the default's lists
    assert atis.train.lexicon_dropout == default.train.lexicon_dropout > 0
    assert atis.train.mention_swap == default.train.mention_swap > 0
    snips = compose_config(["experiment=snips"], Path("x"))
    assert snips.data.benchmark == "snips" and snips.model.word_dim == 300 and not snips.model.intent_to_slot
    assert snips.model.lexicons == default.model.lexicons and snips.train.mention_swap == default.train.mention_swap
    fast = compose_config(["debug=fast"], Path("x"))
    assert fast.trainer.max_epochs == 1 and fast.trainer.limit_train_batches == 3


def test_defaults():
    cfg = compose_config([], ROOT / "outputs" / "unused")
    assert cfg.model.cell == "lstm" and cfg.model.num_layers >= 2 and cfg.model.bidirectional
    assert cfg.model.forget_bias == 1.0 and cfg.trainer.gradient_clip_val > 0
    assert cfg.data.benchmark == "atis" and cfg.data.path is None  # located by slotfill.data.load.locate
    # joint by default: slots and intent, the checkpoint chosen on both (bench/RESULTS.md, the default's intent head)
    assert cfg.model.intent and cfg.model.intent_encoder == "separate" and cfg.model.intent_hidden_size == 64
    assert cfg.callbacks.model_checkpoint.monitor == cfg.callbacks.early_stopping.monitor == "val/joint"


def test_the_presets_keep_their_own_intent_encoder():
    for name in ("atis", "snips"):
        cfg = compose_config([f"experiment={name}"], Path("x"))
        assert cfg.model.intent_encoder == "separate" and cfg.model.intent_hidden_size is None


def _leaves(node, prefix=""):
    for key, value in node.items():
        name = f"{prefix}{key}"
        if OmegaConf.is_dict(value):
            yield from _leaves(value, name + ".")
        else:
            yield name


@pytest.mark.slow
def test_every_option_is_consumed(tmp_path):
    """Each leaf of the train, predict, evaluate and export configs is read by slotfill or by the class it builds."""
    train = compose_config(["logger=tensorboard", "data=atis_hub"], tmp_path)
    consumers = {
        "model": set(NetConfig.__dataclass_fields__),
        "train": set(TrainConfig.__dataclass_fields__),
        "data": {*DATA_KEYS, "batch_size", "eval_batch_size", "min_freq", "seed"},
    }
    top = TRAIN_KEYS - set(consumers) - {"optimizer", "trainer", "callbacks", "logger"}
    for leaf in _leaves(train):
        group, _, rest = leaf.partition(".")
        if group in ("optimizer", "trainer", "callbacks", "logger"):
            continue  # built by instantiate: an unknown key fails test_every_group_option_builds
        if group in consumers:
            assert rest.split(".")[0] in consumers[group], leaf
        else:
            assert leaf in top, leaf
    source = "\n".join(p.read_text() for p in (ROOT / "slotfill").rglob("*.py"))
    for name in ("predict", "evaluate", "export"):
        cfg = compose_config(["ckpt=x"], tmp_path, config_name=name)
        for leaf in _leaves(cfg):
            if leaf.startswith("data.") or leaf in ("output_dir", "ckpt"):
                continue
            if leaf.startswith("ray."):  # read as a whole into RaySettings (cli.options.ray_settings)
                assert leaf.removeprefix("ray.") in RaySettings.__dataclass_fields__, leaf
                continue
            assert f"cfg.{leaf}" in source or f'"{leaf}"' in source, f"{name}.yaml: {leaf} is never read"


def test_a_setting_of_another_type_is_one_line_naming_it():
    from slotfill.errors import ConfigError
    from slotfill.models import NetConfig
    from slotfill.training.module import TrainConfig

    with pytest.raises(ConfigError, match=r"^train.warmup_steps=1.5: must be a whole number$"):
        TrainConfig.from_dict({"warmup_steps": 1.5})
    with pytest.raises(ConfigError, match=r"^model.crf='yes': must be true or false$"):
        NetConfig.from_dict({"crf": "yes"})
    with pytest.raises(ConfigError, match=r"^model.hidden_size=True: must be a whole number$"):
        NetConfig.from_dict({"hidden_size": True})
    assert NetConfig.from_dict({"dropout": 0, "intent_hidden_size": None}).dropout == 0  # an int is a number


def test_a_model_file_an_earlier_version_wrote_with_1_for_true_still_loads():
    from slotfill.core.fingerprint import model_fingerprint
    from slotfill.models.slot_model import SlotModel
    from tests.helpers import tiny_model

    state = tiny_model(intent=True).state()
    state["model"]["intent"] = 1  # as `model.intent=1` was saved before settings were type-checked
    state["fingerprint"] = model_fingerprint(state["weights_sha256"], state["model"], state["vocabs"])
    again = SlotModel.from_state(state, "old.pt")
    assert again.config.intent == 1 and again.predicts_intent


@pytest.fixture(scope="module")
def train_cfg(tmp_path_factory):
    """The training config, composed once (a composition is ~0.3 s): each case edits a copy."""
    from tests.helpers import compose_config

    return compose_config([], tmp_path_factory.mktemp("cfg"))


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"trainer.max_epochs": -1, "train.lr_decay": "cosine"}, "a learning-rate schedule .* needs an end"),
        ({"trainer.max_epochs": -1, "train.warmup_steps": 10}, "needs an end: give trainer.max_epochs"),
        ({"trainer.check_val_every_n_epoch": 2}, "slotfill validates every epoch"),
        ({"trainer.val_check_interval": 0.5}, "slotfill validates once an epoch, at its end"),
        ({"trainer.val_check_interval": 1}, "val_check_interval=1 \\(1.0, or leaving it out, is once an epoch"),
        ({"model.crf": True, "model.label_smoothing": 0.1}, "the CRF \\(model.crf=true\\) has none"),
    ],
)
def test_train_settings_that_would_break_mid_run_are_refused_before(train_cfg, settings, problem):
    from omegaconf import open_dict

    from slotfill.cli.options import check_train

    def edited(**more):
        cfg = train_cfg.copy()
        with open_dict(cfg):
            for key, value in {**settings, **more}.items():
                OmegaConf.update(cfg, key, value, force_add=True)
        return cfg

    with pytest.raises(ConfigError, match=problem):
        check_train(edited())
    if "train.lr_decay" in settings:  # with an end, the schedule is fine
        check_train(edited(**{"trainer.max_steps": 100}))
    if "trainer.max_epochs" not in settings:  # a run begun before the check still resumes
        check_train(edited(resume="/a/run"))


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("callbacks.early_stopping.patience", "abc", "patience='abc': must be a whole number of at least 0"),
        ("callbacks.early_stopping.patience", -3, "patience=-3: must be a whole number"),
        ("callbacks.early_stopping.min_delta", "x", "min_delta='x': must be a number of at least 0"),
        ("callbacks.model_checkpoint.save_top_k", "abc", "save_top_k='abc': must be a whole number of at least -1"),
        ("optimizer.lr", 0, "optimizer.lr=0: must be a number above 0"),
        ("optimizer.lr", float("nan"), "optimizer.lr=nan: must be a number above 0"),
        ("optimizer.lr", "abc", "optimizer.lr='abc'"),
        ("data.min_freq", "abc", "data.min_freq='abc': must be a whole number of at least 1"),
        ("data.min_freq", 1.5, "data.min_freq=1.5"),
        ("data.seed", "abc", "data.seed='abc'"),
        ("trainer.limit_train_batches", "abc", "limit_train_batches='abc': give a fraction above 0"),
    ],
)
def test_numbers_training_takes_are_named_before_it_starts(train_cfg, key, value, problem):
    """Their own errors named no setting (``'<=' not supported ...``), came after epochs were trained
    (early stopping's patience), or never came (``optimizer.lr=0`` trained nothing, exit 0)."""
    from omegaconf import open_dict

    from slotfill.cli.options import check_train

    check_train(train_cfg)
    cfg = train_cfg.copy()
    with open_dict(cfg):
        OmegaConf.update(cfg, key, value, force_add=True)
    with pytest.raises(ConfigError, match=re.escape(problem)):
        check_train(cfg)


def test_several_epochs_kept_under_one_file_name_are_refused(train_cfg):
    """Every epoch saved to ``best.ckpt``: a worse later epoch replaced the better one."""
    from omegaconf import open_dict

    from slotfill.cli.options import check_train

    cfg = train_cfg.copy()
    with open_dict(cfg):
        cfg.callbacks.model_checkpoint.filename = "best"
        check_train(cfg)  # one epoch kept: one name is enough
        cfg.callbacks.model_checkpoint.save_top_k = 3
    with pytest.raises(ConfigError, match="filename=best: save_top_k=3 keeps several epochs: put {epoch} in the name"):
        check_train(cfg)
    for name, versions in (("best-{step}", False), ("best", True)):  # a file an epoch all the same
        with open_dict(cfg):
            cfg.callbacks.model_checkpoint.filename = name
            cfg.callbacks.model_checkpoint.enable_version_counter = versions
        check_train(cfg)


def test_the_documented_trainer_settings_compose_without_a_plus(tmp_path):
    """docs/training.md's multi-node lines (trainer.num_nodes=2) and the validation settings that
    check_train words were "unknown setting" from the command line: the config did not list them."""
    from tests.helpers import compose_config

    cfg = compose_config(["trainer=ddp", "trainer.num_nodes=2", "trainer.val_check_interval=0.5"], tmp_path)
    assert cfg.trainer.num_nodes == 2 and cfg.trainer.val_check_interval == 0.5
    assert compose_config([], tmp_path).trainer.check_val_every_n_epoch == 1


def test_the_plus_form_that_set_num_nodes_before_the_config_listed_it_still_does():
    from slotfill.cli.commands import hydra_argv

    _, argv = hydra_argv("train", ["trainer=ddp", "+trainer.num_nodes=2", "+trainer.foo=1"])
    assert "trainer.num_nodes=2" in argv and "+trainer.foo=1" in argv


def test_an_unknown_lightning_setting_says_how_to_add_it(tmp_path):
    from hydra.errors import ConfigCompositionException

    from slotfill.cli.exits import config_error
    from tests.helpers import compose_config

    with pytest.raises(ConfigCompositionException) as e:
        compose_config(["trainer.accumulate_grad_batches=2"], tmp_path)
    said = config_error(e.value, "train")
    assert said.startswith("unknown setting trainer.accumulate_grad_batches")
    assert "+trainer.accumulate_grad_batches=... adds it" in said
