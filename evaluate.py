"""Evaluate a checkpoint: ``python evaluate.py ckpt=PATH data=atis split=test``."""

import hydra
from omegaconf import DictConfig

from slotfill.cli import friendly_errors, run_entry
from slotfill.run import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@friendly_errors
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    run_entry(main)
