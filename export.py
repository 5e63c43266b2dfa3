"""Export a checkpoint to ONNX: ``python export.py ckpt=outputs/.../model.pt``."""

import hydra
from omegaconf import DictConfig

from slotfill.cli import friendly_errors, run_entry
from slotfill.run import export


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
@friendly_errors
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    run_entry(main)
