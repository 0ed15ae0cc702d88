"""``flexconv train -m``: Hydra's multirun over the train config, with Hydra's launchers and sweepers.

One training run per combination of comma-separated override values (``seed=0,1,2 optim.lr=1e-3,3e-3``),
each exactly what ``flexconv train`` with those overrides would do: its own run folder
(``runs/<experiment>/<timestamp>[-n]``), checkpoints and ``summary.json``. Hydra's own files (each job's
overrides and log) go to ``runs/multirun/<date>_<time>/<job number>``. The launcher is a config group:
``hydra/launcher=basic`` (one job after the other, the default), ``joblib`` (parallel processes on this
machine), ``submitit_local`` or ``submitit_slurm`` (jobs on a SLURM cluster); ``hydra/sweeper=optuna``
searches hyperparameters instead of sweeping a grid (docs/multirun.md). The job is a parameter: the results
sweep (:mod:`flexconv.experiments.results.sweep`) runs its row/seeds through the same launchers with its own.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

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


def in_folder(folder: str, job: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """``job(cfg)`` in ``folder``, the one the multirun was launched from: joblib's launcher may hand the job to a
    worker process that an earlier multirun started in another folder, and run folders may be relative."""
    os.chdir(folder)
    return job(cfg)


def multirun(overrides: Sequence[str], job: Callable[[DictConfig], Any] = run_job, raise_errors: bool = False) -> None:
    """Run Hydra's multirun of the train config with ``overrides`` (Hydra's own ``hydra/...`` ones included),
    calling ``job`` with each composed config: a module-level function or a ``functools.partial`` of one, which
    a launcher's worker processes can unpickle.

    Hydra parses the command line itself, so its options (``--cfg``, ``--info``) work here as in any Hydra
    application; ``hydra.main`` reads them from ``sys.argv``, which is set for the call and restored after.
    A failing job makes Hydra print its traceback and exit; with ``raise_errors`` its exception propagates
    instead (``HYDRA_FULL_ERROR``, set for the call).
    """
    import hydra

    register_config_groups()
    main = hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")(
        partial(in_folder, os.getcwd(), job)
    )
    argv, full_error = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = ["flexconv train", "--multirun", *overrides]
    if raise_errors:
        os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    finally:
        sys.argv = argv
        os.environ.pop("HYDRA_FULL_ERROR", None)
        if full_error is not None:
            os.environ["HYDRA_FULL_ERROR"] = full_error


def launch(overrides: Sequence[str], job: Callable[[DictConfig], Any], jobs: int = 1) -> None:
    """:func:`multirun` for library code: the basic launcher for ``jobs`` 1, else joblib's with ``jobs`` worker
    processes; Hydra's own files (sweep folder, ``.hydra``) in a temporary folder, its logging set-up switched
    off (flexconv's loggers keep theirs), a job's exception raised as itself."""
    launcher = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"] if jobs > 1 else []
    with tempfile.TemporaryDirectory() as hydra_dir:
        quiet = [f"hydra.sweep.dir='{hydra_dir}'", "hydra/hydra_logging=none", "hydra/job_logging=none"]
        multirun([*overrides, *quiet, *launcher], job, raise_errors=True)
