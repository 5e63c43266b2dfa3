"""Train a slot tagger: ``python train.py data=atis model=bilstm trainer.max_epochs=30``."""

import hydra
from omegaconf import DictConfig

from slotfill.cli import friendly_errors, resume_argv, run_entry
from slotfill.run import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@friendly_errors
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    run_entry(main, resume_argv)
