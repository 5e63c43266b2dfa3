"""Evaluate a checkpoint: ``python evaluate.py ckpt=PATH data=atis split=test``."""

import sys

from slotfill.cli.exits import quiet_ctrl_c, quote_paths

quiet_ctrl_c()

sys.argv = quote_paths(sys.argv)

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from slotfill.cli.exits import friendly_errors, run_entry  # noqa: E402
from slotfill.cli.jobs import evaluate  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@friendly_errors
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    run_entry(main)
