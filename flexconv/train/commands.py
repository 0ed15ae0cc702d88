"""``train(cfg)`` and ``evaluate(checkpoint)``: what ``flexconv train`` / ``flexconv evaluate`` do, as functions.

Neither parses arguments or prints, so tests and other commands call them directly; the command
line is :mod:`flexconv.cli.train`, the config :func:`flexconv.train.config.compose_config`, the
parts of a run :mod:`flexconv.train.builders`.

A run folder ``runs/<experiment_name>/<timestamp>/`` (or ``run_dir=``) holds ``config.yaml`` (the
resolved config), ``metrics.csv`` and ``tensorboard/``, ``checkpoints/best.ckpt`` and
``checkpoints/last.ckpt``, ``kernel_sizes.png``, ``kernels.png`` and ``summary.json``.
``resume=<last.ckpt or run folder>`` continues a run (pass the same overrides): last.ckpt is saved
after the first step of every epoch (and every ``checkpoint.every_n_train_steps`` steps when set),
and a killed run resumes to the same weights, the same ``metrics.csv`` and the same final
``last.ckpt`` as an uninterrupted run.

Before anything is built the config is checked (:mod:`flexconv.train.validate`); a timestamped
run folder is created atomically and a run folder is locked while a run writes into it
(:mod:`flexconv.train.run_dir`); checkpoints are checked before use (:mod:`flexconv.train.checkpoints`).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import os
import time
from collections.abc import Sequence, Sized
from pathlib import Path
from typing import Any, Optional, cast

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from flexconv.atomic import write_text
from flexconv.data.datamodule import FlexDataModule
from flexconv.nn.resolution import reestimate_batch_norm
from flexconv.train.builders import (
    build_checkpoints,
    build_module,
    build_test_trainer,
    build_trainer,
    checkpoint_monitor,
    datamodule_from_config,
)
from flexconv.train.callbacks import FitClock, KernelPictures, RunSummary, quiet_lightning
from flexconv.train.checkpoints import evaluation_module
from flexconv.train.module import TaskModule
from flexconv.train.resumable import DataOrder, with_epoch_sampler
from flexconv.train.run_dir import (
    CHECKPOINTS,
    RUN_DIR_ENV,
    RunLock,
    clear_stale_checkpoints,
    is_first_process,
    resolve_run_dir,
)
from flexconv.train.validate import validate_config

log = logging.getLogger(__name__)

MIN_VAL_EXAMPLES = 20  # fewer validation examples than this make "best" checkpoints a coin toss
BATCH_NORM_BATCHES = 100
"""Training batches over which :func:`measure_test_metrics_batch_norm_reestimated` re-estimates the
BatchNorm statistics (6,400 examples at the presets' batch size 64)."""


def train(
    cfg: DictConfig,
    init_state: Optional[dict[str, torch.Tensor]] = None,
    resolution_change: Optional[list[int]] = None,
    callbacks: Sequence[L.Callback] = (),
) -> dict[str, Any]:
    """Fit, test the best checkpoint and return the results.

    init_state: model state dict to start from (cross-resolution fine-tuning).
    resolution_change: ``[source, target]`` applied to the model before ``init_state`` is loaded.
    callbacks: extra Lightning callbacks.
    Returns test_acc, val_acc, best_checkpoint, last_checkpoint, params, wall_time_s, step_time_s (wall time per
    optimiser step, validation included), run_dir
    and the test metrics. wall_time_s and device cover every segment of a resumed run (:class:`FitClock`);
    wall_time_s is None when it resumed from a checkpoint that kept no time.
    """
    start = time.perf_counter()
    validate_config(cfg)
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = datamodule_from_config(cfg)
    module = build_module(cfg, datamodule.record, resolution_change)
    if init_state is not None:
        module.model.load_state_dict(init_state)

    datamodule.prepare_data()
    datamodule.setup("fit")
    train_loader = with_epoch_sampler(datamodule.train_dataloader(), cfg.seed)
    val_loader = datamodule.val_dataloader()  # [] when there is no validation split
    val = val_loader if isinstance(val_loader, DataLoader) and len(val_loader) > 0 else None
    has_val = val is not None
    if val is not None and len(cast(Sized, val.dataset)) < MIN_VAL_EXAMPLES:
        log.warning(
            "the validation split holds only %d examples: val/acc and best.ckpt will be noisy "
            "(raise data.val_fraction or data.limit_train)",
            len(cast(Sized, val.dataset)),
        )
    monitor = checkpoint_monitor(cfg, has_val)
    run_dir, ckpt_path = resolve_run_dir(cfg)  # the first thing written: after every check above
    os.environ[RUN_DIR_ENV] = str(run_dir)
    lock = RunLock(run_dir) if is_first_process() else contextlib.nullcontext()
    with lock:
        return _fit_and_test(cfg, module, datamodule, train_loader, val, monitor, run_dir, ckpt_path, callbacks, start)


def _fit_and_test(
    cfg: DictConfig,
    module: TaskModule,
    datamodule: FlexDataModule,
    train_loader: DataLoader,
    val_loader: Optional[DataLoader],
    monitor: Optional[str],
    run_dir: Path,
    ckpt_path: Optional[Path],
    callbacks: Sequence[L.Callback],
    start: float,
) -> dict[str, Any]:
    """The part of :func:`train` that writes into ``run_dir``."""
    best, last = build_checkpoints(cfg, run_dir, monitor)
    summary = RunSummary(
        run_dir,
        {"experiment": cfg.experiment_name, "model": cfg.model.name, "dataset": cfg.data.name, "run_dir": str(run_dir)},
    )
    clock = FitClock(start)
    all_callbacks = [best, last, DataOrder(train_loader), KernelPictures(run_dir), summary, clock, *callbacks]
    history = ckpt_path.parent.parent / "metrics.csv" if ckpt_path is not None else None
    changes = {} if val_loader is not None else {"limit_val_batches": 0}
    with quiet_lightning():
        trainer = build_trainer(cfg, run_dir, all_callbacks, history, **changes)
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        if ckpt_path is None and (stale := clear_stale_checkpoints(run_dir)):
            log.warning(
                "%s held checkpoints of an earlier run: deleted (%s)",
                run_dir / CHECKPOINTS,
                ", ".join(p.name for p in stale),
            )
        write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    with quiet_lightning(resuming=ckpt_path is not None):
        trainer.fit(
            module,
            train_dataloaders=train_loader,
            val_dataloaders=val_loader,
            ckpt_path=str(ckpt_path) if ckpt_path else None,
        )

    results: dict[str, Any] = {"test_acc": None}
    if cfg.test:
        datamodule.setup("test")
        with quiet_lightning():
            tested = trainer.test(
                module, dataloaders=datamodule.test_dataloader(), ckpt_path=best.best_model_path or None, verbose=False
            )
        results.update(tested[0] if tested else {})
        results["test_acc"] = results.get("test/acc")
    score = best.best_model_score
    results.update(
        val_acc=float(score) if score is not None and monitor == "val/acc" else None,
        best_checkpoint=best.best_model_path or None,
        last_checkpoint=str(run_dir / CHECKPOINTS / "last.ckpt"),
        params=sum(p.numel() for p in module.model.parameters()),
        wall_time_s=round(clock.seconds, 1),  # across interruptions
        step_time_s=round(clock.seconds / trainer.global_step, 3) if trainer.global_step else None,
        device=clock.device,
        run_dir=str(run_dir),
    )
    summary.summary.update(results)
    summary.write(trainer)
    return results


def measure_test_metrics(module: TaskModule, cfg: DictConfig, progress_bar: bool = False) -> dict[str, float]:
    """The test metrics (``test/acc``, ``test/loss``, ...) of ``module`` on ``cfg``'s data: no logging, no
    checkpoints."""
    datamodule = datamodule_from_config(cfg)
    datamodule.prepare_data()
    datamodule.setup("test")
    trainer = build_test_trainer(cfg, progress_bar)
    with quiet_lightning():
        metrics = trainer.test(module, dataloaders=datamodule.test_dataloader(), verbose=False)[0]
    return cast("dict[str, float]", metrics)  # a dict at run time (the stubs say Mapping)


def measure_test_metrics_batch_norm_reestimated(module: TaskModule, cfg: DictConfig) -> dict[str, float]:
    """:func:`measure_test_metrics` once the BatchNorm statistics are re-estimated on the first
    :data:`BATCH_NORM_BATCHES` training batches of ``cfg``'s data (inputs only: no labels, no gradient);
    ``module`` is left as it was.

    The running statistics of a model in training trail its weights; where they trail far (few steps, a
    model still changing fast), the eval-mode metrics measure that rather than what the weights compute.
    """
    datamodule = datamodule_from_config(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    device = next(module.model.parameters()).device
    batches = itertools.islice(datamodule.train_dataloader(), BATCH_NORM_BATCHES)
    kept = copy.deepcopy(module.model.state_dict())
    try:
        reestimate_batch_norm(module.model, (x.to(device) for x, _ in batches))
        return measure_test_metrics(module, cfg)
    finally:
        module.model.load_state_dict(kept)


def evaluate(checkpoint_path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Test a checkpoint on its dataset's test split; ``overrides`` (``key=value``) change its stored config."""
    checkpoint_path = Path(checkpoint_path)
    module = evaluation_module(checkpoint_path)  # a run's checkpoint, or a released name
    cfg = OmegaConf.create(module.hparams["run_config"])
    OmegaConf.set_struct(cfg, True)
    cfg = cast(DictConfig, OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides))))
    tested = measure_test_metrics(module, cfg, progress_bar=True)
    return {
        "test_acc": tested.get("test/acc"),
        **tested,
        "checkpoint": str(checkpoint_path),
        "params": sum(p.numel() for p in module.model.parameters()),
    }
