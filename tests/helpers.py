"""Shared test helpers: compose the real configs, shrink them, train on the sample."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

TINY_MODEL = [
    "model.word_dim=32",
    "model.hidden_size=32",
    "model.dropout=0.0",
    "model.embed_dropout=0.0",
    "model.output_dropout=0.0",
]


def compose_config(overrides: list[str], output_dir: Path, config_name: str = "train") -> DictConfig:
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(config_name=config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.output_dir = str(output_dir)
    return cfg


def sample_overrides(epochs: int = 40, extra: list[str] | None = None) -> list[str]:
    return [
        "data=sample",
        f"data.path={ROOT / 'data' / 'sample'}",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "trainer.deterministic=false",
        "callbacks.early_stopping.patience=100",
        "optimizer.lr=0.01",
        "train.unk_replace=0.0",
        *TINY_MODEL,
        *(extra or []),
    ]


def train_on_sample(output_dir: Path, epochs: int = 40, extra: list[str] | None = None) -> dict:
    from slotfill.run import train

    cfg = compose_config(sample_overrides(epochs, extra), output_dir)
    return train(cfg)
