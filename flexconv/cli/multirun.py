"""``flexconv train -m``: Hydra's multirun over the train config, with Hydra's launchers and sweepers.

One training run per combination of comma-separated override values (``seed=0,1,2 optim.lr=1e-3,3e-3``),
each exactly what ``flexconv train`` with those overrides would do: its own run folder
(``runs/<experiment>/<timestamp>[-n]``), checkpoints and ``summary.json``. Hydra's own files (each job's
overrides and log) go to ``runs/multirun/<date>_<time>/<job number>``. The launcher is a config group:
``hydra/launcher=basic`` (one job after the other, the default), ``joblib`` (parallel processes on this
machine), ``submitit_local`` or ``submitit_slurm`` (jobs on a SLURM cluster); ``hydra/sweeper=optuna``
searches hyperparameters instead of sweeping a grid (docs/multirun.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf

from flexconv.cli.common import print_results, setup_logging
from flexconv.train.config import CONFIG_DIR, register_config_groups
from flexconv.train.validate import ConfigError


class SweepResult(dict):
    """A run's results (as :func:`flexconv.train.commands.train` returns them) whose float value is its
    best validation accuracy: what a Hydra sweeper that optimises a number (Optuna) reads."""

    def __float__(self) -> float:
        if self.get("val_acc") is None:
            raise ConfigError(
                "a sweeper optimises the best validation accuracy (val/acc), and this run has none: "
                "keep a validation split (data.val_fraction > 0) and checkpoint.monitor=val/acc"
            )
        return float(self["val_acc"])


def run_job(cfg: DictConfig) -> SweepResult:
    """One job of the sweep: resolve and check the config Hydra composed, train, print the results."""
    from flexconv.train.commands import train

    setup_logging()  # also in a launcher's fresh worker process
    OmegaConf.resolve(cfg)
    OmegaConf.set_struct(cfg, True)
    results = train(cfg)
    print_results(f"{cfg.experiment_name}: {cfg.model.name} on {cfg.data.name}, seed {cfg.seed}", results)
    return SweepResult(results)


def multirun(overrides: Sequence[str]) -> None:
    """Run Hydra's multirun of the train config with ``overrides`` (Hydra's own ``hydra/...`` ones included).

    Hydra parses the command line itself, so its options (``--cfg``, ``--info``) work here as in any Hydra
    application; ``hydra.main`` reads them from ``sys.argv``, which is set for the call and restored after.
    """
    import hydra

    register_config_groups()
    main = hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")(run_job)
    argv = sys.argv
    sys.argv = ["flexconv train", "--multirun", *overrides]
    try:
        main()
    finally:
        sys.argv = argv
