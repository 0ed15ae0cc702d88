"""Sweep: run the rows of a study once per seed, reusing finished row/seeds and resuming interrupted ones.

A row is an experiment preset plus overrides, run in-process through :func:`flexconv.train.commands.train`
(or :func:`flexconv.train.crossres.crossres`), so every table row is literally
``flexconv train experiment=<preset> key=value ... seed=<s>``. A row/seed whose resolved config equals a record
of the table (:mod:`~flexconv.experiments.results.table`: its run folder's, or a committed one) is reused instead
of trained again; one stopped mid-training (its ``config.yaml`` equal to the row's config, a
``checkpoints/last.ckpt`` beside it) continues from its last checkpoint (``resume=<run folder>``), so an
interrupted study resumes where it stopped and loses at most an epoch. A row may name another program: "aeon"
fits one of aeon's classifiers (:func:`flexconv.experiments.baselines.fit_aeon`) on the row's ``data=``; such
rows are left out of ``--fast`` invocations (numba compiles their kernels for minutes on a fresh machine).
"fit_kernel" fits one kernel network to one target (:func:`flexconv.experiments.fit_kernel.fit_one`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union, cast

from flexconv.experiments.results.judge import Results
from flexconv.experiments.results.render import TableRow
from flexconv.experiments.results.table import RUN_RECORD, Record, environment, read_record, record_path, write_record
from flexconv.train.run_dir import CHECKPOINTS, RunDirInUseError, saved_config_matches

log = logging.getLogger(__name__)

# Overrides of every training row in --fast mode: tiny subsets, one epoch, quiet.
FAST_TRAIN = ("trainer.max_epochs=1", "data.limit_train=256", "data.limit_test=256", "trainer.limit_val_batches=2")
# Bookkeeping overrides of every row (outputs only, never the result); left out of the quoted command.
QUIET = ("trainer.enable_progress_bar=false", "logger.tensorboard=false")
AEON = "aeon"
"""The program of rows that fit one of aeon's classifiers instead of training a network."""
FIT_KERNEL = "fit_kernel"
"""The program of rows that fit kernel network ``experiment`` to their ``target=``."""


@dataclass(frozen=True)
class Row:
    """One table row. key: how the study's code names it; name: what the page shows.

    experiment, overrides: the preset and the ``key=value`` overrides that define the row (plain
    strings, quoted as they are); fast: more overrides in --fast mode.
    program: what runs the row when not its study's program: "aeon" (``experiment`` is then a key of
    :data:`flexconv.experiments.baselines.AEON_CLASSIFIERS`, ``overrides`` holds ``data=<name>`` only).
    """

    key: str
    name: str
    experiment: str
    overrides: tuple[str, ...] = ()
    fast: tuple[str, ...] = ()
    program: Optional[str] = None


@dataclass(frozen=True)
class Context:
    """Settings shared by the studies of one invocation.

    extra: overrides of every row (``--data-root``, ``--override k=v``); study_extra: overrides of
    one study's rows (``--override study:k=v``); finished_only: train nothing, tabulate the row/seeds
    that finished; trained_rows: the keys of the only rows that may train (None: all), the others as
    with finished_only; jobs: how many row/seeds train at once (joblib's processes; 1: one after the other, in
    this process).
    """

    fast: bool
    seeds: list[int]
    out: Path
    runs: Path
    extra: tuple[str, ...] = ()
    study_extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    invocation: str = ""
    finished_only: bool = False
    trained_rows: Optional[frozenset[str]] = None
    jobs: int = 1

    def trains(self, row: Row) -> bool:
        """Whether ``row``'s unfinished seeds are trained (else left out)."""
        return not self.finished_only and (self.trained_rows is None or row.key in self.trained_rows)

    @property
    def figures(self) -> Path:
        return self.out / "figures"


class DataUnavailable(Exception):
    """A study's dataset is not installed (the study is reported as skipped)."""


@dataclass
class Runs:
    """What the runner measured for some rows, by row key: results per finished seed, their run
    folders, and the command of each row (``flexconv train ... seed=S``)."""

    results: dict[str, Results] = field(default_factory=dict)
    run_dirs: dict[str, list[Path]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)

    def table_rows(self, rows: Sequence[Row]) -> list[TableRow]:
        """``rows`` as the report's table rows."""
        return [TableRow(row.name, self.results[row.key], self.commands[row.key]) for row in rows]


def command(row: Row, ctx: Context, study: str) -> list[str]:
    """The overrides that define a row's result (what the page quotes), without the seed.

    Later groups win per key (a row's ``fast`` overrides replace the common --fast ones; ``--override``
    replaces both); ``study`` selects the ``--override study:k=v`` overrides.
    """
    groups = [
        (f"experiment={row.experiment}",),
        row.overrides,
        *((FAST_TRAIN, row.fast) if ctx.fast else ()),
        ctx.extra,
        ctx.study_extra.get(study, ()),
    ]
    merged: dict[str, str] = {}
    for override in (o for group in groups for o in group):
        merged[override.split("=", 1)[0]] = override
    return list(merged.values())


def command_line(program: str, row: Row, ctx: Context, study: str) -> str:
    """The row's command as the page quotes it (S = the seed)."""
    if program == AEON:
        data = dict(override.split("=", 1) for override in row.overrides)["data"]
        return f"flexconv.experiments.baselines.fit_aeon({row.experiment!r}, {data!r}, seed=S)"
    if program == FIT_KERNEL:
        from flexconv.experiments.fit_kernel import page_command

        return page_command(dict(o.split("=", 1) for o in row.overrides)["target"], row.experiment, ctx.fast)
    return f"flexconv {program} {' '.join(command(row, ctx, study))} seed=S"


def folder_name(row_name: str) -> str:
    """A row name as a folder name: characters other than letters, digits, - _ . become _.

    Run folders are named after the displayed name (not the key) so that the run folders of earlier
    invocations stay reusable.
    """
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in row_name)


def compose(row: Row, ctx: Context, study: str, seed: int, program: str = "train") -> Any:
    """The row's resolved config for ``seed``, writing into ``<runs>/<study>/<row>/seed<seed>``; for an "aeon"
    row, its classifier, its ``data=`` and the seed; for a "fit_kernel" row, the keywords of
    :func:`flexconv.experiments.fit_kernel.fit_one` (``--override`` applies to training rows only)."""
    from omegaconf import OmegaConf

    from flexconv.train.config import compose_config

    run_dir = ctx.runs / study / folder_name(row.name) / f"seed{seed}"
    if program == AEON:
        return OmegaConf.create(
            {
                "classifier": row.experiment,
                **dict(o.split("=", 1) for o in row.overrides),
                "seed": seed,
                "run_dir": str(run_dir),
                "resume": None,
            }
        )
    if program == FIT_KERNEL:
        from flexconv.experiments.fit_kernel import page_config

        target = dict(o.split("=", 1) for o in row.overrides)["target"]
        return OmegaConf.create({**page_config(target, row.experiment, seed, ctx.fast), "run_dir": str(run_dir)})
    return compose_config([*command(row, ctx, study), f"seed={seed}", f"run_dir={run_dir}", *QUIET])


def run_rows(
    rows: Sequence[Row],
    ctx: Context,
    study: str,
    program: str = "train",
    max_seeds: Optional[int] = None,
    batch_norm_reestimated: bool = False,
) -> Runs:
    """Run every row once per seed (the context's seeds, at most ``max_seeds`` of them), reusing finished ones.

    study: the folder (``<runs>/<study>/<row>``) and the ``--override study:...`` overrides;
    program: "train" or "crossres" (a row's own ``program`` wins); batch_norm_reestimated: also test each
    trained checkpoint with its BatchNorm statistics re-estimated (:func:`batch_norm_reestimated_metrics`).
    A missing dataset raises :class:`DataUnavailable`.
    """
    from omegaconf import OmegaConf

    runs = Runs()
    seeds = ctx.seeds[:max_seeds] if max_seeds is not None else ctx.seeds
    slots: list[tuple[str, Path, Union[Record, Job]]] = []  # (row key, run folder, its record or its job)
    for row in rows:
        runs.results[row.key], runs.run_dirs[row.key] = [], []
        row_program = row.program or program
        runs.commands[row.key] = command_line(row_program, row, ctx, study)
        if row_program == AEON and ctx.fast:
            log.info("%s / %s: an aeon row, left out of --fast", study, row.name)
            continue
        for seed in seeds:
            cfg = compose(row, ctx, study, seed, row_program)
            config = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
            where = (study, folder_name(row.name), seed)
            committed = record_path(ctx.out, *where)
            record = reusable(Path(cfg.run_dir) / RUN_RECORD, config) or reusable(committed, config)
            if not ctx.fast and record is not None and not reusable(committed, config):
                write_record(committed, record)  # --fast numbers are noise: never recorded
            if record is not None:
                log.info("%s / %s / seed %d: reusing its record", study, row.name, seed)
                slots.append((row.key, Path(cfg.run_dir), record))
            elif ctx.trains(row):
                job = Job(where, cfg, config, row_program, batch_norm_reestimated, None if ctx.fast else committed)
                slots.append((row.key, Path(cfg.run_dir), job))
            else:
                log.info("%s / %s / seed %d: not finished, left out (--finished-only or --rows)", study, row.name, seed)
    jobs = [slot for _, _, slot in slots if isinstance(slot, Job)]
    if ctx.jobs > 1 and len(jobs) > 1:
        from joblib import Parallel, delayed  # type: ignore[import-untyped]

        trained = Parallel(n_jobs=ctx.jobs)(delayed(train_job)(job) for job in jobs)
    else:
        trained = [train_job(job) for job in jobs]
    done = dict(zip(map(id, jobs), trained))
    for key, run_dir, slot in slots:
        finished = done[id(slot)] if isinstance(slot, Job) else slot
        if finished is not None:
            runs.results[key].append(finished.result)
            runs.run_dirs[key].append(run_dir)
    return runs


@dataclass(frozen=True)
class Job:
    """A row/seed to train: where it belongs (study, row folder, seed), its config (and resolved), what runs
    it, and where its committed record goes (None: not recorded, --fast)."""

    where: tuple[str, str, int]
    cfg: Any
    config: dict[str, Any]
    program: str
    batch_norm_reestimated: bool
    committed: Optional[Path]


def train_job(job: Job) -> Optional[Record]:
    """Train one row/seed (resuming it if it was interrupted) and write its records; None when another process
    holds its run folder (it is reused once finished). Runs in a worker process with ``--jobs``."""
    try:
        result = run_one(resume_if_interrupted(job.cfg), job.program, job.batch_norm_reestimated)
    except RunDirInUseError as error:
        log.warning("%s: left out, %s", job.cfg.run_dir, error)
        return None
    record = Record(*job.where, {**job.config, "resume": None}, result, environment())
    write_record(Path(job.cfg.run_dir) / RUN_RECORD, record)
    if job.committed is not None:
        write_record(job.committed, record)
    return record


def reusable(path: Path, config: dict[str, Any]) -> Optional[Record]:
    """The record at ``path`` when it holds the result of ``config`` (outputs aside), else None."""
    return record if path.is_file() and (record := read_record(path)).computed(config) else None


def run_one(cfg: Any, program: str, batch_norm_reestimated: bool = False) -> dict[str, Any]:
    """Train (or run the cross-resolution protocol on, or fit an aeon classifier on) one row/seed: its result,
    with the kernel sizes of a trained model and, with ``batch_norm_reestimated``, its test metrics once the
    BatchNorm statistics are re-estimated."""
    from flexconv.data.records import DatasetNotFoundError
    from flexconv.experiments.baselines import fit_aeon
    from flexconv.experiments.fit_kernel import fit_one
    from flexconv.train import commands, crossres

    try:
        if program == AEON:
            return fit_aeon(cfg.classifier, cfg.data, cfg.seed)
        if program == FIT_KERNEL:
            return fit_one(**{key: value for key, value in cfg.items() if key != "run_dir"})
        if program == "crossres":
            result = crossres.crossres(cfg)
            return {**result, "params": params_of_run(Path(result["source_run"]))}
        result = commands.train(cfg)
    except DatasetNotFoundError as error:
        raise DataUnavailable(str(error)) from error
    result["kernel_sizes"] = kernel_sizes_of_run(Path(cfg.run_dir))
    if batch_norm_reestimated:
        result.update(batch_norm_reestimated_metrics(cfg, result))
    return result


BATCH_NORM_REESTIMATED = "bn_reestimated/"
"""Prefix of the test metrics measured with re-estimated BatchNorm statistics (``bn_reestimated/test/loss``)."""


def batch_norm_reestimated_metrics(cfg: Any, result: dict[str, Any]) -> dict[str, float]:
    """The test metrics of the run's checkpoint (the best, else the last) once its BatchNorm statistics are
    re-estimated on training batches (:func:`flexconv.train.commands.measure_test_metrics_batch_norm_reestimated`),
    each key prefixed with :data:`BATCH_NORM_REESTIMATED`."""
    from flexconv.train.checkpoints import load_module
    from flexconv.train.commands import measure_test_metrics_batch_norm_reestimated

    checkpoint = result.get("best_checkpoint") or result["last_checkpoint"]
    metrics = measure_test_metrics_batch_norm_reestimated(load_module(checkpoint), cfg)
    return {BATCH_NORM_REESTIMATED + key: float(value) for key, value in metrics.items()}


def kernel_sizes_of_run(run_dir: Path) -> Optional[dict[str, Any]]:
    """The kernel sizes of a training run's final model (its ``last.ckpt``), recorded with its result so
    that a study can show them without the checkpoint: ``learned`` and ``initial`` (taps per axis, per
    continuous layer, in layer order) and ``grid`` (the first layer's grid, taps per axis). None for a
    model without continuous (CKConv/FlexConv) layers."""
    import torch

    from flexconv.models.registry import build_model, model_config
    from flexconv.train.callbacks import continuous_layers
    from flexconv.train.module import TaskModule

    module = TaskModule.load_from_checkpoint(run_dir / CHECKPOINTS / "last.ckpt", map_location="cpu")
    layers = continuous_layers(module.model)
    if not layers:
        return None
    grid = list(layers[0][1].grid_sizes())
    fresh = build_model(
        model_config(module.hparams["model_name"], **module.model_config)
    ).eval()  # at its initial masks
    with torch.no_grad():
        fresh(torch.zeros(1, module.model_config["in_channels"], *grid))
    return {
        "learned": [list(layer.effective_kernel_size()) for _, layer in layers],
        "initial": [list(layer.effective_kernel_size()) for _, layer in continuous_layers(fresh)],
        "grid": grid,
    }


def resume_if_interrupted(cfg: Any) -> Any:
    """``cfg`` with ``resume`` set to its run folder when an earlier invocation trained this exact
    config there and stopped before it finished (cross-resolution rows have no ``config.yaml`` of their own at
    the row's folder: :func:`flexconv.train.crossres.crossres` reuses or resumes their stages itself)."""
    run_dir = Path(cfg.run_dir)
    if not ((run_dir / "config.yaml").is_file() and (run_dir / CHECKPOINTS / "last.ckpt").is_file()):
        return cfg
    if not saved_config_matches(run_dir, cfg):
        log.info("%s holds a run of another config: training from scratch", run_dir)
        return cfg
    log.info("resuming the interrupted run in %s", run_dir)
    resumed = cfg.copy()
    resumed.resume = str(run_dir)
    return resumed


def params_of_run(run_dir: Path) -> Optional[int]:
    """The parameter count in a training run's ``summary.json`` (None without one)."""
    summary = run_dir / "summary.json"
    return json.loads(summary.read_text()).get("params") if summary.is_file() else None
