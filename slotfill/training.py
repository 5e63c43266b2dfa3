"""A training run from a composed config: build, fit, reload the best epoch, score, write the run folder."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar

from .callbacks import Throughput
from .datamodule import SlotDataModule
from .lexicon import Lexicon
from .metrics import slot_report
from .model import SlotModel
from .models import NetConfig
from .module import SlotTaggerModule, TrainConfig
from .schema import metrics_record, write_atomic, write_json

# Lightning's advice about dataloader workers does not apply: batches are pre-encoded tensors.
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*sync_dist=True.*")


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


def _components(group: DictConfig | None) -> list:
    """Instantiate each ``_target_`` entry of a callbacks/logger group."""
    return [instantiate(c) for c in (group or {}).values() if c is not None and "_target_" in c]


def build(cfg: DictConfig) -> tuple[SlotDataModule, SlotTaggerModule, pl.Trainer]:
    """Data module, LightningModule and Trainer from a composed config (seeded, threads set)."""
    torch.set_num_threads(int(cfg.threads))
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    net_cfg = NetConfig.from_dict(_plain(cfg.model))
    lexicon = Lexicon.read(net_cfg.lexicons) if net_cfg.lexicons else None
    datamodule = SlotDataModule.from_config(_plain(cfg.data), lexicon)
    datamodule.prepare()
    train_cfg = TrainConfig.from_dict(_plain(cfg.train))
    model = SlotModel(
        net_cfg,
        datamodule.vocabs,
        meta={"dataset": datamodule.name, "train": train_cfg.to_dict()},
    )
    module = SlotTaggerModule(model, train_cfg, optimizer=instantiate(cfg.optimizer))
    callbacks = _components(cfg.get("callbacks"))
    bar = bool(cfg.trainer.get("enable_progress_bar", True)) and interactive()
    if not bar:  # redirected output: EpochLog's lines, no \r-redrawn bar
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=_components(cfg.get("logger")), enable_progress_bar=bar
    )
    return datamodule, module, trainer


def interactive() -> bool:
    """Whether standard output is a terminal (where a progress bar redraws in place)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def fit(cfg: DictConfig) -> TrainingRun:
    """Fit, reload the best checkpoint by the validation ``monitor``, then score valid (and test)."""
    datamodule, module, trainer = build(cfg)
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    seconds = time.perf_counter() - start
    ckpt = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
    best = ckpt.best_model_path if ckpt is not None and ckpt.best_model_path else None
    if best:
        module.model.load_state_dict(SlotModel.load(best).state_dict())
    facts = {
        "seed": int(cfg.seed),
        "epochs": int(trainer.current_epoch),
        "world_size": int(trainer.world_size),
        "train_time_s": round(seconds, 1),
        "best_checkpoint": best,
        "monitor": str(ckpt.monitor) if ckpt is not None else None,
        "best_val_score": float(ckpt.best_model_score) if best else None,  # of the monitored metric
    }
    for cb in trainer.callbacks:
        if isinstance(cb, Throughput):
            facts.update(cb.summary)
    # the best epoch's scores for the run folder; metrics.csv keeps the training curve (one row per epoch)
    loggers, trainer.loggers = trainer.loggers, []
    try:
        trainer.validate(module, datamodule=datamodule, verbose=False)
        if cfg.get("test_after_fit", True) and datamodule.has_test:
            trainer.test(module, datamodule=datamodule, verbose=False)
    finally:
        trainer.loggers = loggers
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
        "data_sha256": data_fingerprint(getattr(run.datamodule, "datasets", None)),
        "scores": run.scores,
    }


def write_run(run: TrainingRun, out_dir: Path) -> dict:
    """``model.pt``, ``metrics.json`` and per-split seqeval reports (main process only); the metrics."""
    run.model.meta.update(provenance(run))
    model_file = run.model.save(out_dir / "model.pt")
    for split, result in run.module.results.items():
        write_atomic(out_dir / f"{split}_report.txt", slot_report(result["gold"], result["pred"]))
    metrics = metrics_record("train", run.model.card(), run.scores, model_file=str(model_file), **run.facts)
    write_json(out_dir / "metrics.json", metrics)
    return metrics
