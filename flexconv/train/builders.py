"""What a run is made of, built from the ``train`` config: data, module, trainer, loggers, checkpoints.

Every part that :func:`flexconv.train.commands.train`, ``evaluate`` and ``crossres`` use is built
here, from the config's sections and their own argument names.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any, Optional, cast

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from flexconv.data.datamodule import FlexDataModule, build_datamodule
from flexconv.data.records import DatasetRecord
from flexconv.train.callbacks import LastCheckpoint, ParameterSummary
from flexconv.train.checkpoints import AtomicCheckpointIO
from flexconv.train.config import DATA_FIELDS
from flexconv.train.history import RunCSVLogger
from flexconv.train.module import TaskModule
from flexconv.train.run_dir import CHECKPOINTS
from flexconv.train.sync_batchnorm import SyncBatchNormAnyDevice

log = logging.getLogger(__name__)


def datamodule_from_config(cfg: DictConfig) -> FlexDataModule:
    """The data module of ``cfg.data`` (FlexDataModule's own argument names)."""
    return build_datamodule(**cast("dict[str, Any]", OmegaConf.to_container(cfg.data, resolve=True)))


def model_options(cfg: DictConfig, record: DatasetRecord) -> tuple[str, dict[str, Any]]:
    """(model name, options) with the data fields taken from the dataset record where null."""
    options = cast("dict[str, Any]", OmegaConf.to_container(cfg.model, resolve=True))
    name = options.pop("name")
    for field in DATA_FIELDS:
        if options.get(field) is None:
            options[field] = getattr(record, field)
    return name, options


def build_module(cfg: DictConfig, record: DatasetRecord, resolution_change: Optional[list[int]] = None) -> TaskModule:
    """The LightningModule for ``cfg`` and the dataset ``record`` (``resolution_change``: see TaskModule)."""
    name, options = model_options(cfg, record)
    objective = cfg.objective or record.objective
    antialias = (
        cast("dict[str, Any]", OmegaConf.to_container(cfg.antialias, resolve=True))
        if cfg.antialias is not None
        else None
    )
    return TaskModule(
        model_name=name,
        model_options=options,
        optim=cast("dict[str, Any]", OmegaConf.to_container(cfg.optim, resolve=True)),
        objective=objective,
        antialias=antialias,
        resolution_change=resolution_change,
        run_config=cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True)),
        compile=cfg.compile,
        compile_mode=cfg.compile_mode,
    )


def build_loggers(cfg: DictConfig, run_dir: Path, history: Optional[Path] = None) -> list[Logger]:
    """CSV (``metrics.csv``, continuing ``history`` on resume), TensorBoard and W&B as configured."""
    loggers: list[Logger] = []
    if cfg.logger.csv:
        loggers.append(RunCSVLogger(run_dir, history))
    if cfg.logger.tensorboard:
        loggers.append(
            TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False)
        )
    if cfg.logger.wandb:
        if importlib.util.find_spec("wandb") is None:
            log.warning("logger.wandb=true but wandb is not installed: not logging to W&B")
        else:
            from lightning.pytorch.loggers import WandbLogger

            loggers.append(
                WandbLogger(project=cfg.logger.wandb_project, save_dir=str(run_dir), name=cfg.experiment_name)
            )
    return loggers


def build_trainer(
    cfg: DictConfig, run_dir: Path, callbacks: list[L.Callback], history: Optional[Path] = None, **changes: Any
) -> L.Trainer:
    """lightning.Trainer from ``cfg.trainer`` (with ``changes``) plus loggers, a progress bar, the
    parameter summary, atomic checkpoint writes and BatchNorm synchronised on CPUs too (when
    ``sync_batchnorm``); ``callbacks``: the run's own (checkpoints, pictures, ...)."""
    options = {**cast("dict[str, Any]", OmegaConf.to_container(cfg.trainer, resolve=True)), **changes}
    if options["enable_progress_bar"] and sys.stdout.isatty():
        callbacks = [*callbacks, RichProgressBar()]
    if options.pop("enable_model_summary", True):
        callbacks = [*callbacks, ParameterSummary()]
    return L.Trainer(
        **options,
        enable_model_summary=False,  # ParameterSummary instead
        default_root_dir=str(run_dir),
        logger=build_loggers(cfg, run_dir, history),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO(), *([SyncBatchNormAnyDevice()] if options.get("sync_batchnorm") else [])],
        deterministic=cfg.deterministic,
        use_distributed_sampler=False,  # the EpochSampler shards the data itself
    )


def build_test_trainer(cfg: DictConfig, progress_bar: bool = False) -> L.Trainer:
    """A trainer that only tests (one device, no logging, no checkpoints), as ``cfg.trainer`` limits it;
    ``progress_bar``: show one when the output is a terminal."""
    shown = progress_bar and sys.stdout.isatty()
    return L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        limit_test_batches=cfg.trainer.limit_test_batches,
        enable_progress_bar=shown,
        callbacks=[RichProgressBar()] if shown else None,
    )


def checkpoint_monitor(cfg: DictConfig, has_val: bool) -> Optional[str]:
    """The metric that picks best.ckpt: ``checkpoint.monitor``, or without a validation split the
    training metric of the same name (``val/acc`` -> ``train/acc_epoch``), said in a warning."""
    monitor = cfg.checkpoint.monitor
    if has_val or monitor is None or not monitor.startswith("val/"):
        return monitor
    switched = f"train/{monitor.removeprefix('val/')}_epoch"
    log.warning(
        "no validation split (data.val_fraction=%s): best.ckpt follows %s instead of %s",
        cfg.data.val_fraction,
        switched,
        monitor,
    )
    return switched


def build_checkpoints(
    cfg: DictConfig, run_dir: Path, monitor: Optional[str]
) -> tuple[ModelCheckpoint, ModelCheckpoint]:
    """(best by ``monitor``, last: also every n training steps when configured, and at the end)."""
    directory = str(run_dir / CHECKPOINTS)
    best = ModelCheckpoint(
        dirpath=directory,
        filename="best",
        monitor=monitor,
        mode=cfg.checkpoint.mode,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    last = LastCheckpoint(
        dirpath=directory,
        filename="last",
        save_top_k=0,
        save_last=True,
        every_n_train_steps=cfg.checkpoint.every_n_train_steps,
        enable_version_counter=False,
    )
    return best, last
