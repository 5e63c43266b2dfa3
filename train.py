"""Train a slot tagger: ``python train.py data=atis model=bilstm trainer.max_epochs=30``."""

import hydra
from omegaconf import DictConfig

from slotfill.cli import friendly_errors
from slotfill.run import objective, train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@friendly_errors
def main(cfg: DictConfig) -> float | None:
    """The monitored validation score of the best epoch: what ``hydra/sweeper=optuna`` maximises."""
    return objective(train(cfg))


if __name__ == "__main__":
    main()
