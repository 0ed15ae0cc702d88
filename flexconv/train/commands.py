"""``flexconv train`` and ``flexconv evaluate``: Hydra configs in, a run folder out.

``train(cfg) -> dict`` is the whole training run and does not parse arguments, so tests and other
commands call it directly; ``train_main(argv)`` composes the config from ``key=value`` overrides
(``hydra.compose``, no ``@hydra.main``), trains and prints a results table.

A run folder ``runs/<experiment_name>/<timestamp>/`` (or ``run_dir=``) holds ``config.yaml`` (the
resolved config), ``metrics.csv`` and ``tensorboard/``, ``checkpoints/best.ckpt`` and
``checkpoints/last.ckpt``, ``kernel_sizes.png``, ``kernels.png`` and ``summary.json``.
``resume=<last.ckpt or run folder>`` continues a run (pass the same overrides); with
``checkpoint.every_n_train_steps`` set, a run killed mid-epoch resumes to the same weights, the
same ``metrics.csv`` and the same final ``last.ckpt`` as an uninterrupted run.

Before anything is built the config is checked (:mod:`flexconv.train.validate`); a timestamped
run folder is created atomically and a run folder is locked while a run writes into it
(:mod:`flexconv.train.run_dir`); checkpoints are checked before use (:mod:`flexconv.train.checkpoints`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import ConfigCompositionException, HydraException
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError, OmegaConfBaseException

from flexconv.models.registry import config_dict, list_models, model_config
from flexconv.train.callbacks import KernelPictures, LastCheckpoint, ParameterSummary, RunSummary, quiet_lightning
from flexconv.train.checkpoints import CheckpointError, read_checkpoint
from flexconv.train.history import RunCSVLogger
from flexconv.train.module import ClassificationModule, OptimConfig
from flexconv.train.release import evaluation_module
from flexconv.train.resumable import DataOrder, with_epoch_sampler
from flexconv.train.run_dir import RunDirInUseError, RunLock, new_run_dir
from flexconv.train.validate import ConfigError, unknown_override_error, validate_config

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
RUN_DIR_ENV = "FLEXCONV_RUN_DIR"  # lets DDP worker processes write into rank 0's run folder
DATA_FIELDS = ("in_channels", "num_classes", "data_dim")
MIN_VAL_EXAMPLES = 20  # fewer validation examples than this make "best" checkpoints a coin toss


# -- configuration --------------------------------------------------------------------------------
def register_config_groups() -> None:
    """Store one ``model/<name>`` option per registered model, one ``data/<name>`` per dataset, and
    ``optim/base`` (OptimConfig's defaults, which the optim/*.yaml options change).

    Model options are the model configuration's fields, with the data fields left null (filled
    from the dataset record); data options are FlexDataModule's arguments with their defaults.
    """
    from flexconv.data.datamodule import SERIES, FlexDataModule
    from flexconv.data.records import DATASETS

    store = ConfigStore.instance()
    for name in list_models():
        node = config_dict(model_config(name))
        node.update({field: None for field in DATA_FIELDS})
        store.store(group="model", name=name, node={"name": name, **node})
    store.store(group="optim", name="base", node=vars(OptimConfig()))  # every optim/*.yaml starts from it
    arguments = {
        p.name: p.default
        for p in inspect.signature(FlexDataModule).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "name"
    }
    for name in (*DATASETS, SERIES):  # series: the user's own files (data=series data.path=...)
        node = {"name": name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in arguments.items()}}
        store.store(group="data", name=name, node=node)


def _compose(overrides: Sequence[str]) -> DictConfig:
    register_config_groups()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="flexconv"):
        cfg = compose(config_name="train", overrides=list(overrides))
    OmegaConf.resolve(cfg)
    OmegaConf.set_struct(cfg, True)
    return cfg


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The resolved, checked ``train`` config with Hydra ``overrides`` (e.g. ``experiment=main_job``),
    in struct mode. An override of a key the config lacks, or a value of the wrong type, raises
    :class:`ConfigError` naming the key and the known keys or the expected type."""
    try:
        cfg = _compose(overrides)
    except ConfigCompositionException as error:
        if not isinstance(error.__cause__, ConfigAttributeError) or "not in struct" not in str(error.__cause__):
            raise
        key = str(error).split("'")[1]  # "Could not override 'trainer.max_epoch'. ..."
        rest = [o for o in overrides if o.split("=", 1)[0] != key]
        value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key), "")
        try:
            known = _compose(rest)
        except HydraException:
            known = None
        raise unknown_override_error(key, value, known) from None
    validate_config(cfg)
    return cfg


# -- building blocks ------------------------------------------------------------------------------
def build_datamodule(cfg: DictConfig) -> Any:
    """FlexDataModule from ``cfg.data`` (its own argument names)."""
    from flexconv.data.datamodule import FlexDataModule

    options = OmegaConf.to_container(cfg.data, resolve=True)
    if options.get("resolution") is not None:
        options["resolution"] = tuple(options["resolution"])
    return FlexDataModule(**options)


def model_options(cfg: DictConfig, record: Any) -> tuple[str, dict[str, Any]]:
    """(model name, options) with the data fields taken from the dataset record where null."""
    options = OmegaConf.to_container(cfg.model, resolve=True)
    name = options.pop("name")
    for field in DATA_FIELDS:
        if options.get(field) is None:
            options[field] = getattr(record, field)
    return name, options


def build_module(
    cfg: DictConfig, record: Any, resolution_change: Optional[list[int]] = None
) -> ClassificationModule:
    """The LightningModule for ``cfg`` and the dataset ``record``."""
    name, options = model_options(cfg, record)
    objective = cfg.objective or record.objective
    antialias = OmegaConf.to_container(cfg.antialias, resolve=True) if cfg.antialias is not None else None
    return ClassificationModule(
        model_name=name,
        model_options=options,
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        objective=objective,
        antialias=antialias,
        resolution_change=resolution_change,
        run_config=OmegaConf.to_container(cfg, resolve=True),
    )


def resume_checkpoint(cfg: DictConfig) -> Optional[Path]:
    """The checkpoint that ``cfg.resume`` names (a file, or a run folder's checkpoints/last.ckpt),
    checked to be a readable flexconv checkpoint with loop state; None without ``resume``."""
    if cfg.resume is None:
        return None
    resume = Path(cfg.resume)
    ckpt_path = resume / "checkpoints" / "last.ckpt" if resume.is_dir() else resume
    read_checkpoint(ckpt_path, for_resume=True)
    return ckpt_path


def resolve_run_dir(cfg: DictConfig) -> tuple[Path, Optional[Path]]:
    """(run folder, checkpoint to resume from or None). Without ``run_dir`` or ``resume``, a new
    folder ``runs/<experiment_name>/<timestamp>[-n]`` is created (atomically: never shared)."""
    ckpt_path = resume_checkpoint(cfg)
    run_dir = cfg.run_dir
    if run_dir is None and ckpt_path is not None:
        run_dir = ckpt_path.parent.parent
    if run_dir is None and os.environ.get("LOCAL_RANK", "0") != "0":
        run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir is None:
        run_dir = new_run_dir(Path("runs") / cfg.experiment_name)
    return Path(run_dir), ckpt_path


def build_loggers(cfg: DictConfig, run_dir: Path, history: Optional[Path] = None) -> list[Logger]:
    """CSV (``metrics.csv``, continuing ``history`` on resume), TensorBoard and W&B as configured."""
    loggers: list[Logger] = []
    if cfg.logger.csv:
        loggers.append(RunCSVLogger(run_dir, history))
    if cfg.logger.tensorboard:
        loggers.append(TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False))
    if cfg.logger.wandb:
        if importlib.util.find_spec("wandb") is None:
            log.warning("logger.wandb=true but wandb is not installed: not logging to W&B")
        else:
            from lightning.pytorch.loggers import WandbLogger

            loggers.append(WandbLogger(project=cfg.logger.wandb_project, save_dir=str(run_dir), name=cfg.experiment_name))
    return loggers


def build_trainer(cfg: DictConfig, run_dir: Path, callbacks: list[L.Callback], history: Optional[Path] = None,
                  **changes: Any) -> L.Trainer:
    """lightning.Trainer from ``cfg.trainer`` plus checkpoints, loggers and a progress bar."""
    options = {**OmegaConf.to_container(cfg.trainer, resolve=True), **changes}
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
        deterministic=cfg.deterministic,
        use_distributed_sampler=False,  # the EpochSampler shards the data itself
    )


def checkpoint_monitor(cfg: DictConfig, has_val: bool) -> Optional[str]:
    """The metric that picks best.ckpt: ``checkpoint.monitor``, or without a validation split the
    training metric of the same name (``val/acc`` -> ``train/acc_epoch``), said in a warning."""
    monitor = cfg.checkpoint.monitor
    if has_val or monitor is None or not monitor.startswith("val/"):
        return monitor
    switched = f"train/{monitor.removeprefix('val/')}_epoch"
    log.warning("no validation split (data.val_fraction=%s): best.ckpt follows %s instead of %s",
                cfg.data.val_fraction, switched, monitor)
    return switched


def _checkpoints(cfg: DictConfig, run_dir: Path, monitor: Optional[str]) -> tuple[ModelCheckpoint, ModelCheckpoint]:
    """(best by ``monitor``, last: also every n training steps when configured, and at the end)."""
    directory = str(run_dir / "checkpoints")
    best = ModelCheckpoint(
        dirpath=directory, filename="best", monitor=monitor,
        mode=cfg.checkpoint.mode, save_top_k=1, auto_insert_metric_name=False, enable_version_counter=False,
    )
    last = LastCheckpoint(
        dirpath=directory, filename="last", save_top_k=0, save_last=True,
        every_n_train_steps=cfg.checkpoint.every_n_train_steps, enable_version_counter=False,
    )
    return best, last


def setup_cli_logging() -> None:
    """INFO messages of flexconv's own loggers on stderr (Lightning's loggers keep their own handlers)."""
    logger = logging.getLogger("flexconv")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


# -- train / evaluate -----------------------------------------------------------------------------
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
    Returns test_acc, val_acc, best_checkpoint, last_checkpoint, params, wall_time_s, run_dir
    and the test metrics.
    """
    start = time.perf_counter()
    validate_config(cfg)
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    record = datamodule.record
    module = build_module(cfg, record, resolution_change)
    if init_state is not None:
        module.model.load_state_dict(init_state)

    datamodule.prepare_data()
    datamodule.setup("fit")
    train_loader = with_epoch_sampler(datamodule.train_dataloader(), cfg.seed)
    val_loader = datamodule.val_dataloader()
    has_val = val_loader is not None and len(val_loader) > 0
    if has_val and len(val_loader.dataset) < MIN_VAL_EXAMPLES:
        log.warning("the validation split holds only %d examples: val/acc and best.ckpt will be noisy "
                    "(raise data.val_fraction or data.limit_train)", len(val_loader.dataset))
    monitor = checkpoint_monitor(cfg, has_val)
    run_dir, ckpt_path = resolve_run_dir(cfg)  # the first thing written: after every check above
    os.environ[RUN_DIR_ENV] = str(run_dir)
    lock = RunLock(run_dir) if os.environ.get("LOCAL_RANK", "0") == "0" else contextlib.nullcontext()
    with lock:
        return _fit_and_test(cfg, module, datamodule, train_loader, val_loader if has_val else None, monitor,
                             run_dir, ckpt_path, callbacks, start)


def _fit_and_test(cfg: DictConfig, module: ClassificationModule, datamodule: Any, train_loader: Any,
                  val_loader: Any, monitor: Optional[str], run_dir: Path, ckpt_path: Optional[Path],
                  callbacks: Sequence[L.Callback], start: float) -> dict[str, Any]:
    """The part of :func:`train` that writes into ``run_dir``."""
    best, last = _checkpoints(cfg, run_dir, monitor)
    summary = RunSummary(run_dir, {"experiment": cfg.experiment_name, "model": cfg.model.name, "dataset": cfg.data.name,
                                   "run_dir": str(run_dir)})
    all_callbacks = [best, last, DataOrder(train_loader), KernelPictures(run_dir), summary, *callbacks]
    history = ckpt_path.parent.parent / "metrics.csv" if ckpt_path is not None else None
    changes = {} if val_loader is not None else {"limit_val_batches": 0}
    with quiet_lightning():
        trainer = build_trainer(cfg, run_dir, all_callbacks, history, **changes)
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    with quiet_lightning(resuming=ckpt_path is not None):
        trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                    ckpt_path=str(ckpt_path) if ckpt_path else None)

    results: dict[str, Any] = {"test_acc": None}
    if cfg.test:
        datamodule.setup("test")
        with quiet_lightning():
            tested = trainer.test(module, dataloaders=datamodule.test_dataloader(),
                                  ckpt_path=best.best_model_path or None, verbose=False)
        results.update(tested[0] if tested else {})
        results["test_acc"] = results.get("test/acc")
    score = best.best_model_score
    results.update(
        val_acc=float(score) if score is not None and monitor == "val/acc" else None,
        best_checkpoint=best.best_model_path or None,
        last_checkpoint=str(run_dir / "checkpoints" / "last.ckpt"),
        params=sum(p.numel() for p in module.model.parameters()),
        wall_time_s=round(time.perf_counter() - start, 1),
        run_dir=str(run_dir),
    )
    summary.summary.update(results)
    summary.write(trainer)
    return results


def evaluate(checkpoint_path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Test a checkpoint on its dataset's test split; ``overrides`` (``key=value``) change its stored config."""
    checkpoint_path = Path(checkpoint_path)
    module = evaluation_module(checkpoint_path)  # a run's checkpoint, or a released name
    cfg = OmegaConf.create(module.hparams.run_config)
    OmegaConf.set_struct(cfg, True)
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("test")
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator, devices=1, logger=False, enable_checkpointing=False,
        limit_test_batches=cfg.trainer.limit_test_batches, enable_progress_bar=sys.stdout.isatty(),
        callbacks=[RichProgressBar()] if sys.stdout.isatty() else None,
    )
    with quiet_lightning():
        tested = trainer.test(module, dataloaders=datamodule.test_dataloader(), verbose=False)[0]
    return {"test_acc": tested.get("test/acc"), **tested, "checkpoint": str(checkpoint_path),
            "params": sum(p.numel() for p in module.model.parameters())}


# -- command line ---------------------------------------------------------------------------------
def print_results(title: str, results: dict[str, Any]) -> None:
    """A rich table of the results (accuracy, params, wall time, run folder, ...)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("result")
    table.add_column("value")
    for key, value in results.items():
        if isinstance(value, float):
            value = f"{100 * value:.2f} %" if "acc" in key else f"{value:.4g}"
        table.add_row(key, str(value))
    Console().print(table)


def _fail(command: str, error: Exception) -> None:
    """Exit with ``error``'s message (no traceback); flexconv's own errors need no class name."""
    own = isinstance(error, (ConfigError, CheckpointError, RunDirInUseError))
    sys.exit(f"flexconv {command}: {error}" if own else f"flexconv {command}: {type(error).__name__}: {error}")


TRAIN_USAGE = """usage: flexconv train [key=value ...] [--dry-run | --cfg job]

Hydra overrides of the train config, e.g.
  flexconv train experiment=main_job trainer.max_epochs=5 data.batch_size=32
  flexconv train experiment=cifar10_flexnet7 --dry-run     print the resolved config, train nothing
  flexconv list experiments                                  the presets (also: models, datasets)
Groups: model=, data=, optim=, trainer=, logger=, antialias=, experiment=.
resume=<run folder or last.ckpt> continues a killed run (pass the same overrides).
"""
DRY_RUN_FLAGS = ("--dry-run", "--cfg")


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
                    raise ValueError("--cfg takes `job` (the resolved config); flexconv has no other Hydra config to print")
                skip = True
            continue
        if arg.startswith("-"):
            raise ValueError(f"unknown option {arg!r} (overrides are key=value; options: --dry-run, --cfg job, --help)")
        overrides.append(arg)
    return overrides, dry_run


def train_main(argv: list[str]) -> None:
    """``flexconv train key=value ...`` (Hydra overrides, e.g. ``experiment=main_job``)."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(TRAIN_USAGE)
        return
    setup_cli_logging()
    try:
        overrides, dry_run = split_dry_run(argv)
        cfg = compose_config(overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        _fail("train", error)
    if dry_run:
        print(OmegaConf.to_yaml(cfg, resolve=True), end="")
        return
    try:
        results = train(cfg)
    except (OmegaConfBaseException, ValueError, FileNotFoundError, RunDirInUseError) as error:
        _fail("train", error)
    if os.environ.get("LOCAL_RANK", "0") == "0":
        print_results(f"{cfg.experiment_name}: {cfg.model.name} on {cfg.data.name}", results)


def evaluate_main(argv: list[str]) -> None:
    """``flexconv evaluate <checkpoint> [key=value ...]``."""
    if not argv or any(arg in ("-h", "--help") for arg in argv):
        print("usage: flexconv evaluate <checkpoint or released name> [key=value ...]   (e.g. data.root=./data)")
        return
    setup_cli_logging()
    try:
        results = evaluate(argv[0], argv[1:])
    except (OmegaConfBaseException, ValueError, FileNotFoundError) as error:
        _fail("evaluate", error)
    print_results(f"evaluate {argv[0]}", results)
