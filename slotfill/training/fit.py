"""A training run from a composed config: build, fit, reload the best epoch, score, write the run folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar
from tqdm.contrib.logging import logging_redirect_tqdm

from slotfill.core.files import write_atomic, write_json
from slotfill.core.lexicon import Lexicon
from slotfill.core.schema import LAST_CHECKPOINT, metrics_record
from slotfill.core.threads import describe as describe_threads
from slotfill.core.threads import resolve as resolve_threads
from slotfill.errors import ConfigError, SlotfillError, first_line, missing_extra
from slotfill.evaluation.metrics import slot_report
from slotfill.models import NetConfig
from slotfill.models.slot_model import SlotModel
from slotfill.training import run_folder
from slotfill.training.callbacks import AtomicCheckpointIO, ResumeRandomState, RunRecord, SettledHeap, Throughput
from slotfill.training.datamodule import SlotDataModule
from slotfill.training.module import SlotTaggerModule, TrainConfig
from slotfill.training.precision import bf16_lstm_error
from slotfill.training.precision import describe as describe_precision
from slotfill.training.precision import resolve as resolve_precision
from slotfill.training.transfer import init_from
from slotfill.training.weight_averaging import LastEpochsAverage

log = logging.getLogger(__name__)


class _NoAdverts(logging.Filter):
    """Lightning logs a "Tip" advertising its cloud logger at every Trainer start: nothing a user can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_NoAdverts())

# Lightning's advice about dataloader workers does not apply: batches are pre-encoded tensors.
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
# torch and Lightning versions disagreeing about a private API, and a hint meant for big data sets
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
# slotfill gives every run its own folder (run_folder.py): a non-empty one here is a resumed run
warnings.filterwarnings("ignore", message=".*directory .* exists and is not empty.*")


@dataclass
class TrainingRun:
    """What a finished fit leaves: the module with its best weights, the data, and the facts."""

    datamodule: SlotDataModule
    module: SlotTaggerModule
    trainer: pl.Trainer
    facts: dict = field(default_factory=dict)

    @property
    def model(self) -> SlotModel:
        return self.module.model

    @property
    def scores(self) -> dict[str, dict]:
        return self.module.scores


def _plain(node) -> dict:
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def _instantiate(node, group: str, **kwargs):
    """``instantiate(node)``; a configured component that refuses its settings is a one-line error."""
    try:
        return instantiate(node, **kwargs)
    except Exception as e:
        cause = e.__cause__ or e
        if isinstance(cause, SlotfillError):
            raise cause from None
        extra = missing_extra(cause)
        if extra is not None:
            raise extra from None
        raise ConfigError(f"{group}: {first_line(cause)}") from None


def _components(group: DictConfig | None, name: str) -> list:
    """Instantiate each ``_target_`` entry of a callbacks/logger group."""
    return [_instantiate(c, f"{name}.{key}") for key, c in (group or {}).items() if c is not None and "_target_" in c]


def _model(
    net_cfg: NetConfig, source_file: str | None, datamodule: SlotDataModule, meta: dict, origin: str | None = None
) -> SlotModel:
    """A fresh model sized by the data, or (``init_from``) one starting from a trained model's weights;
    ``origin``: the ``init_from`` the run started from, when ``source_file`` is a resumed run's checkpoint."""
    if not source_file:
        return SlotModel(net_cfg, datamodule.vocabs, meta=meta)
    source = SlotModel.load(source_file)
    # recorded absolute, to be found from any folder; a resumed run's as its first part recorded it (the
    # config's init_from is as typed, relative to where the run started, maybe not where it resumes; a
    # record an earlier version made relative stays so: made absolute here, it would name another file)
    recorded = source.meta.get("init_from") if origin else None
    started = recorded or str(Path(origin or source_file).absolute())
    # the weights fix the architecture: it comes from the model file, not from cfg.model
    model = SlotModel(source.config, datamodule.vocabs, meta={**meta, "init_from": started})
    shared = init_from(model, source)
    if origin is None:
        log.info("init_from %s: weights copied; shared vocabulary entries %s", source_file, shared)
    return model


def _model_overrides() -> list[str]:
    """The model settings the command line gave (Hydra's task overrides; none outside a Hydra job)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():  # the Python API, the tests' compose
        return []
    return [o for o in HydraConfig.get().overrides.task if o.lstrip("+~").split("=")[0].split(".")[0] == "model"]


def ignored_model_settings(given: list[str], used: dict) -> list[str]:
    """The ``model=...``/``model.KEY=VALUE`` overrides in ``given`` that the model built (``used``) does not follow."""
    out = []
    for override in given:
        key, _, value = override.lstrip("+~").partition("=")
        name = key.split(".", 1)[1] if "." in key else None
        if name is None or name not in used or str(used[name]).lower() != value.strip("'\"").lower():
            out.append(override)
    return out


def _ranks(cfg: DictConfig) -> int:
    """The training processes on this machine: the DDP devices, else one."""
    devices = cfg.trainer.get("devices", 1)
    return devices if isinstance(devices, int) and devices > 0 and "ddp" in str(cfg.trainer.get("strategy")) else 1


def build(cfg: DictConfig) -> tuple[SlotDataModule, SlotTaggerModule, pl.Trainer]:
    """Data module, LightningModule and Trainer from a composed config (seeded, threads set)."""
    threads = resolve_threads(cfg.threads, processes=_ranks(cfg))
    torch.set_num_threads(threads)
    log.info(describe_threads(cfg.threads, threads, _ranks(cfg)))
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    # every setting is checked (by building what it configures) before the data is read
    resumed = bool(cfg.get("resume"))  # its settings as the run saved them (an earlier version may have)
    train_cfg = TrainConfig.from_dict(_plain(cfg.train), saved=resumed)
    source_file = str(cfg.init_from) if cfg.get("init_from") else None
    if source_file and cfg.get("resume"):  # a resumed run started from a model: its own checkpoint has the
        source_file = str(Path(str(cfg.resume)) / LAST_CHECKPOINT)  # architecture and vocabularies it built
    source = SlotModel.load(source_file) if source_file else None  # its config and lexicon size the new model
    if source is not None and source.members > 1:
        raise ConfigError(
            f"init_from={source_file}: an ensemble of {source.members} models cannot start one network; give one "
            f"of its members, or learn from it with train.distill_from={source_file}"
        )
    teacher = SlotModel.load(train_cfg.distill_from) if train_cfg.distill_from else None
    if teacher is None and (unused := _distillation_without_teacher(train_cfg)):
        log.warning("%s: no teacher (train.distill_from), so no distillation: ignored", unused)
    asked = NetConfig.from_dict(_plain(cfg.model), saved=resumed)  # checked, as every setting is, even if unused
    net_cfg = source.config if source is not None else asked
    if source is not None and (ignored := ignored_model_settings(_model_overrides(), net_cfg.to_dict())):
        log.warning(
            "init_from=%s: the model's own architecture is used (%s ignored; metrics.json records the model as built)",
            source_file,
            ", ".join(ignored),
        )
    if str(cfg.monitor) == "val/intent_accuracy" and not net_cfg.intent:  # the model built: init_from's own
        raise ConfigError(
            "monitor=val/intent_accuracy: the model has no intent head (model.intent=false); "
            "monitor val/f1 or val/joint"
        )
    if teacher is not None:
        _check_temperature(train_cfg, teacher.config, net_cfg)
    accelerator = str(cfg.trainer.get("accelerator", "cpu"))
    resolved = resolve_precision(train_cfg.precision, net_cfg.cell, accelerator)
    log.info(describe_precision(train_cfg.precision, resolved, net_cfg.cell, accelerator))
    train_cfg = replace(train_cfg, precision=resolved)  # the model file records what it was trained in
    optimizer = _instantiate(cfg.optimizer, "optimizer")
    _check_optimizer(optimizer, cfg.optimizer)
    record = RunRecord(OmegaConf.to_container(cfg, resolve=False))
    callbacks = [*_components(cfg.get("callbacks"), "callbacks"), ResumeRandomState(), SettledHeap(), record]
    if train_cfg.average_last > 1:
        callbacks.append(LastEpochsAverage(train_cfg.average_last))
    bar = bool(cfg.trainer.get("enable_progress_bar", True)) and interactive()
    if not bar:  # redirected output: EpochLog's lines, no \r-redrawn bar
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    logger = _components(cfg.get("logger"), "logger")
    trainer = _instantiate(
        cfg.trainer,
        "trainer",
        callbacks=callbacks,
        logger=logger,
        enable_progress_bar=bar,
        plugins=[AtomicCheckpointIO()],
    )
    if source is not None:
        lexicon = source.vocabs.lexicon
    else:
        lexicon = Lexicon.read(net_cfg.lexicons) if net_cfg.lexicons else None
    datamodule = SlotDataModule.from_config(_plain(cfg.data), lexicon, intents=bool(net_cfg.intent))
    datamodule.prepare()
    datamodule.use_mention_swap(train_cfg.mention_swap)
    record.data_sha256 = data_fingerprint(datamodule.datasets)
    meta = {"dataset": datamodule.name, "train": train_cfg.to_dict(), "data_sha256": record.data_sha256}
    origin = str(cfg.init_from) if cfg.get("init_from") and cfg.get("resume") else None
    model = _model(net_cfg, source_file, datamodule, meta, origin)
    if teacher is not None:
        _check_teacher(teacher, model, train_cfg.distill_from)
        teacher_file = str(Path(train_cfg.distill_from).absolute())  # found from any folder, as model_file is
        model.meta["teacher"] = {"file": teacher_file, "fingerprint": teacher.fingerprint()}
        record.teacher = model.meta["teacher"]["fingerprint"]
    module = SlotTaggerModule(model, train_cfg, optimizer=optimizer, teacher=teacher)
    return datamodule, module, trainer


def _continue_precision(module: SlotTaggerModule, record: dict | None, setting: str, what: str) -> None:
    """A resumed run goes on in the precision its checkpoint's ``record`` started in, whatever ``auto``
    gives on this machine."""
    if record is None:
        return
    started = record.get("precision", "fp32")  # a checkpoint from before train.precision: float32
    now = module.train_config.precision
    if started == now or setting != "auto":  # a setting given outright is the saved config's, unchanged
        return
    if started == "bf16" and (error := bf16_lstm_error()):
        raise ConfigError(
            f"{what}: the run trained its LSTM layers in bfloat16, which this CPU cannot ({error}); "
            "resume it on a CPU that can, or start a new run"
        )
    module.train_in(started)
    log.info("precision: %s, as the run started (train.precision=auto gives %s on this machine)", started, now)


def _check_teacher(teacher: SlotModel, model: SlotModel, source: str) -> None:
    """A teacher's soft labels line up with the student's only over the same vocabularies."""
    if teacher.vocabs.to_dict() != model.vocabs.to_dict():
        raise ConfigError(
            f"train.distill_from={source}: the teacher's vocabularies (words, tags, intents, lexicons) differ "
            "from this run's: distil from models trained on the same data and lexicon lists"
        )
    if model.predicts_intent and not teacher.predicts_intent:
        raise ConfigError(f"train.distill_from={source}: the teacher has no intent head and the student has one")


def _distillation_without_teacher(train_cfg: TrainConfig) -> str:
    """The distillation settings changed from their defaults in a run that has no teacher ("" if none)."""
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    changed = [k for k in ("distill_weight", "distill_temperature") if getattr(train_cfg, k) != defaults[k]]
    return ", ".join(f"train.{k}={getattr(train_cfg, k)}" for k in changed)


def _check_temperature(train_cfg: TrainConfig, teacher: NetConfig, student: NetConfig) -> None:
    """A temperature divides softmax scores: a CRF's marginals (a teacher's soft labels, a student's
    loss) take none."""
    t = train_cfg.distill_temperature
    if t == 1:
        return
    if teacher.crf:
        raise ConfigError(
            f"train.distill_temperature={t:g}: the teacher {train_cfg.distill_from} has a CRF, whose marginals "
            "take no temperature; use 1, or a teacher without a CRF"
        )
    if student.crf:
        raise ConfigError(
            f"train.distill_temperature={t:g}: this run's model has a CRF (model.crf=true, or the init_from "
            "model's), whose loss takes no temperature; use 1, or model.crf=false"
        )


# how torch's optimisers name their settings in their errors ("Invalid learning rate: -1"), and the keys
_NAMED_IN_WORDS = {"learning rate": "lr", "weight_decay": "weight_decay", "beta": "betas", "epsilon": "eps"}


def _check_optimizer(optimizer, settings: DictConfig) -> None:
    """The optimizer's own checks (a NaN or negative learning rate, ...) on a stand-in parameter,
    so a bad setting is refused before the data is read, not when training starts."""
    if not callable(optimizer):
        return
    try:
        optimizer([torch.nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as e:
        said = first_line(e)
        key = next((k for words, k in _NAMED_IN_WORDS.items() if words in said.lower()), None)
        if key is not None and key in settings:
            raise ConfigError(f"optimizer.{key}={settings[key]}: {said}") from None
        raise ConfigError(f"optimizer: {said}") from None


def interactive() -> bool:
    """Whether standard output is a terminal (where a progress bar redraws in place)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def fit(
    cfg: DictConfig, ckpt_path: str | Path | None = None, before_fit: Callable[[], None] | None = None
) -> TrainingRun:
    """Fit (continuing from ``ckpt_path`` if given), reload the best checkpoint by the validation
    ``monitor``, then score valid (and test). ``before_fit``: called once the data and the model are
    built and checked, before anything is written (the run folder's claim).

    Ctrl-C raises KeyboardInterrupt (Lightning turns it into ``SystemExit(1)``); a NaN or
    infinite loss raises :class:`TrainingDiverged`.
    """
    datamodule, module, trainer = build(cfg)
    if ckpt_path:
        teacher = (module.model.meta.get("teacher") or {}).get("fingerprint")
        what, record = f"resume={cfg.get('resume')}", run_folder.checkpoint_record(ckpt_path)
        run_folder.check_same_data(record, module.model.meta.get("data_sha256"), what, teacher=teacher)
        _continue_precision(module, record, str(cfg.train.get("precision", "fp32")), what)
    if before_fit is not None:
        before_fit()
    start = time.perf_counter()
    # with a bar drawn, console log lines (the epoch lines) go above it instead of onto its line
    console = logging_redirect_tqdm() if trainer.progress_bar_callback is not None else contextlib.nullcontext()
    try:
        with console:
            trainer.fit(module, datamodule=datamodule, ckpt_path=str(ckpt_path) if ckpt_path else None)
    except SystemExit:
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    if trainer.interrupted:
        raise KeyboardInterrupt
    seconds = time.perf_counter() - start
    ckpt = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)  # the best
    best = ckpt.best_model_path if ckpt is not None and ckpt.best_model_path else None
    if best:
        module.model.load_state_dict(SlotModel.load(best).state_dict())
    facts = {
        "seed": int(cfg.seed),
        "epochs": int(trainer.current_epoch),
        "world_size": int(trainer.world_size),
        # a resumed run's whole time: the segments before it too, up to the checkpoint it went on from
        "train_time_s": round(
            seconds + sum(c.earlier_seconds for c in trainer.callbacks if isinstance(c, Throughput)), 1
        ),
        "best_checkpoint": str(Path(best).absolute()) if best else None,  # paths absolute: read from any folder
        "monitor": str(ckpt.monitor) if ckpt is not None else None,
        "best_val_score": float(ckpt.best_model_score) if best else None,  # of the monitored metric
    }
    for cb in trainer.callbacks:
        if isinstance(cb, Throughput):
            facts.update(cb.summary)
    if ckpt_path:
        facts["resumed_from"] = str(Path(ckpt_path).absolute())
    if module.model.meta.get("init_from"):  # absolute, as the model file records it
        facts["init_from"] = module.model.meta["init_from"]
    if module.model.meta.get("teacher"):
        facts["teacher"] = module.model.meta["teacher"]
    # the best epoch's scores for the run folder; metrics.csv keeps the training curve (one row per epoch)
    loggers, trainer.loggers = trainer.loggers, []
    try:
        trainer.validate(module, datamodule=datamodule, verbose=False)
        if cfg.get("test_after_fit", True) and datamodule.has_test:
            trainer.test(module, datamodule=datamodule, verbose=False)
        elif cfg.get("test_after_fit", True):
            log.info(
                "%s: no test split: no test scores (a test/ split or test.* file in data.path gives one)",
                datamodule.name,
            )
    except SystemExit:  # Ctrl-C in these passes too: Lightning's SystemExit(1), an interrupted run
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        trainer.loggers = loggers
    if trainer.interrupted:
        raise KeyboardInterrupt
    return TrainingRun(datamodule, module, trainer, facts)


def data_fingerprint(datasets) -> str | None:
    """SHA-256 of every split's columns (tokens, tags, intents): which data a model was trained on."""
    if not datasets:
        return None
    h = hashlib.sha256()
    for split in sorted(datasets):
        ds = datasets[split]
        h.update(split.encode())
        for column in sorted(ds.column_names):
            h.update(json.dumps(list(ds[column]), ensure_ascii=False).encode())
    return h.hexdigest()


def provenance(run: TrainingRun) -> dict:
    """What the model card adds to the weights: when, with which seed, on which data, how well."""
    return {
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": run.facts.get("seed"),
        "data_sha256": run.model.meta.get("data_sha256") or data_fingerprint(getattr(run.datamodule, "datasets", None)),
        "scores": run.scores,
    }


def write_run(run: TrainingRun, out_dir: Path) -> dict:
    """``model.pt``, ``metrics.json`` and per-split seqeval reports (main process only); the metrics."""
    run.model.meta.update(provenance(run))
    model_file = run.model.save(out_dir / "model.pt")
    for split, result in run.module.results.items():
        write_atomic(out_dir / f"{split}_report.txt", slot_report(result["gold"], result["pred"]))
    metrics = metrics_record("train", run.model.card(), run.scores, model_file=str(model_file.absolute()), **run.facts)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
