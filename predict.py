"""Tag sentences: ``python predict.py ckpt=PATH "i'd like a flight from boston to denver, please"``."""

import sys

from slotfill.cli.exits import extract_texts, quiet_ctrl_c, quote_paths

quiet_ctrl_c()

TEXTS, sys.argv = extract_texts(sys.argv)
sys.argv = quote_paths(sys.argv)

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from slotfill.cli.exits import friendly_errors, run_entry  # noqa: E402
from slotfill.cli.jobs import predict  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
@friendly_errors
def main(cfg: DictConfig) -> None:
    predict(cfg, TEXTS)


if __name__ == "__main__":
    run_entry(main)
