"""Train a slot tagger: ``python train.py data=atis model=bilstm trainer.max_epochs=30``."""

from slotfill.cli.exits import quiet_ctrl_c

quiet_ctrl_c()

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from slotfill.cli.exits import friendly_errors, resume_argv, run_entry  # noqa: E402
from slotfill.cli.jobs import objective, train  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@friendly_errors
def main(cfg: DictConfig) -> float | None:
    """The monitored validation score of the best epoch: what ``hydra/sweeper=optuna`` maximises."""
    return objective(train(cfg))


if __name__ == "__main__":
    run_entry(main, resume_argv)
