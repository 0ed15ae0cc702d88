"""``flexconv train``, ``flexconv evaluate`` and ``flexconv crossres`` on the command line.

Each parses its arguments (Hydra ``key=value`` overrides, ``--dry-run`` / ``--cfg job``), calls
:func:`flexconv.train.commands.train`, :func:`~flexconv.train.commands.evaluate` or
:func:`flexconv.train.crossres.crossres`, and prints the results as a table. Errors end the
command with a one-line message (no traceback).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from hydra.errors import HydraException
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from flexconv.cli.common import print_results, setup_logging
from flexconv.train.checkpoints import CheckpointError
from flexconv.train.commands import evaluate, train
from flexconv.train.config import compose_config
from flexconv.train.crossres import crossres
from flexconv.train.run_dir import RUN_DIR_ENV, RunDirInUseError, is_first_process
from flexconv.train.validate import ConfigError

TRAIN_USAGE = """usage: flexconv train [key=value ...] [--dry-run | --cfg job]
       flexconv train -m key=a,b ... [hydra/launcher=joblib|submitit_local|submitit_slurm] [hydra/sweeper=optuna]

Hydra overrides of the train config, e.g.
  flexconv train experiment=main_job trainer.max_epochs=5 data.batch_size=32
  flexconv train experiment=cifar10_flexnet7 --dry-run     print the resolved config, train nothing
  flexconv list experiments                                  the presets (also: models, datasets)
Groups: model=, data=, optim=, trainer=, logger=, antialias=, experiment=.
resume=<run folder or last.ckpt> continues a killed run (pass the same overrides).
-m / --multirun: Hydra's multirun, one run per combination of comma-separated values, e.g.
  flexconv train -m experiment=main_job seed=0,1,2
  flexconv train -m experiment=main_job seed=0,1 hydra/launcher=joblib hydra.launcher.n_jobs=2
docs/multirun.md: launchers (joblib, SLURM through submitit) and the Optuna sweeper.
"""
EVALUATE_USAGE = "usage: flexconv evaluate <checkpoint or released name> [key=value ...]   (e.g. data.root=./data)"
CROSSRES_USAGE = """usage: flexconv crossres experiment=<crossres preset> [key=value ...] [--dry-run | --cfg job]

The cross-resolution protocol of the paper's Table 4: train at the source resolution, test at
the target resolution out of the box, fine-tune there and test again. Presets with a `crossres`
node: cifar10_crossres_16_32[_gabor|_gabor_mask], fashion_crossres_14_28[_gabor|_gabor_mask]
(`flexconv list experiments`). Results go to <run_dir>/crossres.json.
"""
DRY_RUN_FLAGS = ("--dry-run", "--cfg")
MULTIRUN_FLAGS = ("-m", "--multirun")


def fail(command: str, error: Exception) -> NoReturn:
    """Exit with ``error``'s message (no traceback); flexconv's own errors need no class name."""
    own = isinstance(error, (ConfigError, CheckpointError, RunDirInUseError))
    sys.exit(f"flexconv {command}: {error}" if own else f"flexconv {command}: {type(error).__name__}: {error}")


def split_dry_run(argv: Sequence[str]) -> tuple[list[str], bool]:
    """(overrides, dry run?) from ``argv``: ``--dry-run`` or Hydra's ``--cfg job`` ask for a dry run."""
    overrides, dry_run, skip = [], False, False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in DRY_RUN_FLAGS:
            dry_run = True
            if arg == "--cfg":
                if i + 1 >= len(argv) or argv[i + 1] != "job":
                    raise ValueError(
                        "--cfg takes `job` (the resolved config); flexconv has no other Hydra config to print"
                    )
                skip = True
            continue
        if arg.startswith("-"):
            raise ValueError(
                f"unknown option {arg!r} (overrides are key=value; options: -m, --dry-run, --cfg job, --help)"
            )
        overrides.append(arg)
    return overrides, dry_run


def train_main(argv: list[str]) -> None:
    """``flexconv train key=value ...`` (Hydra overrides, e.g. ``experiment=main_job``)."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(TRAIN_USAGE)
        return
    setup_logging()
    if any(arg in MULTIRUN_FLAGS for arg in argv):
        from flexconv.cli.multirun import multirun

        try:
            multirun([arg for arg in argv if arg not in MULTIRUN_FLAGS])
        except ValueError as error:  # Hydra's command-line errors, e.g. -m with --cfg
            fail("train", error)
        return
    try:
        overrides, dry_run = split_dry_run(argv)
        cfg = compose_config(overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        fail("train", error)
    if dry_run:
        print(OmegaConf.to_yaml(cfg, resolve=True), end="")
        return
    try:
        results = train(cfg)
    except (OmegaConfBaseException, ValueError, FileNotFoundError, RunDirInUseError) as error:
        fail("train", error)
    except SIGTERMException:  # Lightning stops after the batch in flight; a scheduler must not see success
        sys.exit(
            f"flexconv train: stopped by SIGTERM; continue with resume={os.environ.get(RUN_DIR_ENV)} "
            "and the same overrides"
        )
    if is_first_process():
        print_results(f"{cfg.experiment_name}: {cfg.model.name} on {cfg.data.name}", results)


def evaluate_main(argv: list[str]) -> None:
    """``flexconv evaluate <checkpoint> [key=value ...]``."""
    if not argv or any(arg in ("-h", "--help") for arg in argv):
        print(EVALUATE_USAGE)
        return
    setup_logging()
    try:
        results = evaluate(argv[0], argv[1:])
    except (OmegaConfBaseException, ValueError, FileNotFoundError) as error:
        fail("evaluate", error)
    print_results(f"evaluate {argv[0]}", results)


def crossres_main(argv: list[str]) -> None:
    """``flexconv crossres experiment=<crossres preset> [key=value ...]``."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(CROSSRES_USAGE)
        return
    setup_logging()
    try:
        overrides, dry_run = split_dry_run(argv)
        cfg = compose_config(overrides)
        if dry_run:
            print(OmegaConf.to_yaml(cfg, resolve=True), end="")
            return
        results = crossres(cfg)
    except (HydraException, OmegaConfBaseException, ValueError, FileNotFoundError, RunDirInUseError) as error:
        sys.exit(f"flexconv crossres: {error}")
    print_results("cross-resolution", results)
