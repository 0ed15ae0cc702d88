"""Sweep: each row of a study is ``flexconv train|crossres experiment=<preset> k=v ... seed=<s>`` once per seed. A
row/seed with a record of its config is reused; the others run as one Hydra multirun per row (``seed=0,2``) in
``<runs>/<study>/<row>/seed<S>``, resuming interrupted runs. Rows of the programs without a train config run in this
process: "aeon" (never in --fast) and "fit_kernel" (:func:`flexconv.experiments.fit_kernel.fit_one`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Optional, cast

from omegaconf import OmegaConf

from flexconv.cli.multirun import launch
from flexconv.experiments import baselines, fit_kernel
from flexconv.experiments.results.judge import Results
from flexconv.experiments.results.table import RUN_RECORD, Record, environment, read_record, record_path, write_record
from flexconv.train.config import compose_config
from flexconv.train.measure import crossres_measured, train_measured
from flexconv.train.run_dir import RunDirInUseError

log = logging.getLogger(__name__)

# Overrides of every training row in --fast mode: tiny subsets, one epoch, quiet.
FAST_TRAIN = ("trainer.max_epochs=1", "data.limit_train=256", "data.limit_test=256", "trainer.limit_val_batches=2")
# Bookkeeping overrides of every row (outputs only, never the result); left out of the quoted command.
QUIET = ("trainer.enable_progress_bar=false", "logger.tensorboard=false")
AEON = "aeon"  # rows that fit an aeon classifier: experiment is the classifier, overrides are ("data=<name>",)
FIT_KERNEL = "fit_kernel"  # rows that fit one kernel network: experiment is the network, overrides ("target=<name>",)


@dataclass(frozen=True)
class Row:
    """A table row: key (in the code), name (on the page), preset, overrides (more in --fast), program if its own."""

    key: str
    name: str
    experiment: str
    overrides: tuple[str, ...] = ()
    fast: tuple[str, ...] = ()
    program: Optional[str] = None


@dataclass(frozen=True)
class Context:
    """An invocation's settings; trained_rows: the only rows that may train (None: all); jobs: see :func:`launch`."""

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


@dataclass
class Runs:
    """By row key: the results of its finished seeds and its command (``... seed=S``)."""

    results: dict[str, Results] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)


def command(row: Row, ctx: Context, study: str) -> list[str]:
    """The overrides that define a row's result (what the page quotes), without the seed; later groups win."""
    fast = (FAST_TRAIN, row.fast) if ctx.fast else ()
    groups = [(f"experiment={row.experiment}",), row.overrides, *fast, ctx.extra, ctx.study_extra.get(study, ())]
    return list({o.split("=", 1)[0]: o for group in groups for o in group}.values())


def command_line(program: str, row: Row, ctx: Context, study: str) -> str:
    """The row's command as the page quotes it (S = the seed)."""
    if program == AEON:
        data = dict(override.split("=", 1) for override in row.overrides)["data"]
        return f"flexconv.experiments.baselines.fit_aeon({row.experiment!r}, {data!r}, seed=S)"
    if program == FIT_KERNEL:
        return fit_kernel.page_command(dict(o.split("=", 1) for o in row.overrides)["target"], row.experiment, ctx.fast)
    return f"flexconv {program} {' '.join(command(row, ctx, study))} seed=S"


def folder_name(row_name: str) -> str:
    """A row's displayed name as a folder name: characters other than letters, digits, - _ . become _."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in row_name)


def compose(row: Row, ctx: Context, study: str, seed: int, program: str = "train") -> Any:
    """The row's resolved config for ``seed``, writing into ``<runs>/<study>/<row>/seed<seed>``."""
    run_dir = ctx.runs / study / folder_name(row.name) / f"seed{seed}"
    if program == FIT_KERNEL:
        target = dict(o.split("=", 1) for o in row.overrides)["target"]
        return OmegaConf.create(
            {**fit_kernel.page_config(target, row.experiment, seed, ctx.fast), "run_dir": str(run_dir)}
        )
    if program not in TRAIN_CONFIG_PROGRAMS:
        aeon = {"classifier": row.experiment, **dict(o.split("=", 1) for o in row.overrides), "seed": seed}
        return OmegaConf.create({**aeon, "run_dir": str(run_dir), "resume": None})
    return compose_config([*command(row, ctx, study), f"seed={seed}", f"run_dir={run_dir}", *QUIET])


def run_rows(
    rows: Sequence[Row],
    ctx: Context,
    study: str,
    program: str = "train",
    max_seeds: Optional[int] = None,
    bn: bool = False,
) -> Runs:
    """Every row once per seed (at most ``max_seeds``), reusing finished ones; program: a key of :data:`PROGRAMS`
    (a row's own wins); bn: also test with re-estimated BatchNorm statistics. No dataset: DatasetNotFoundError."""
    runs = Runs()
    for row in rows:
        row_program, folder = row.program or program, folder_name(row.name)
        runs.commands[row.key] = command_line(row_program, row, ctx, study)
        runs.results[row.key] = []
        seeds = [] if row_program == AEON and ctx.fast else ctx.seeds[:max_seeds]  # aeon: numba compiles for minutes
        cfgs = {seed: compose(row, ctx, study, seed, row_program) for seed in seeds}
        records = {s: (Path(c.run_dir) / RUN_RECORD, record_path(ctx.out, study, folder, s)) for s, c in cfgs.items()}
        pending = [seed for seed in seeds if ctx.trains(row) and not reusable(cfgs[seed], *records[seed])]
        job = partial(run_job, study=study, row=folder, program=row_program, bn=bn)
        if pending and row_program in TRAIN_CONFIG_PROGRAMS:
            sweep = [f"seed={','.join(map(str, pending))}", f"run_dir='{ctx.runs / study / folder}/seed${{seed}}'"]
            launch([*command(row, ctx, study), *QUIET, *sweep], job, ctx.jobs)
        for seed in pending if row_program not in TRAIN_CONFIG_PROGRAMS else ():
            job(cfgs[seed])
        for seed, cfg in cfgs.items():
            if (record := reusable(cfg, *records[seed])) is None:
                log.info("%s / %s / seed %d: not finished, left out", study, row.name, seed)
                continue
            if not ctx.fast and not reusable(cfg, committed := records[seed][1]):
                write_record(committed, record)  # --fast numbers are noise: never recorded
            runs.results[row.key].append(record.result)
    return runs


def run_job(cfg: Any, study: str, row: str, program: str, bn: bool) -> None:
    """A multirun's job: run one row/seed, write its run folder's record (not when another process holds it)."""
    OmegaConf.resolve(cfg)
    config = {**cast(dict[str, Any], OmegaConf.to_container(cfg)), "resume": None}
    try:
        result = PROGRAMS[program](cfg, bn)
    except RunDirInUseError as error:
        log.warning("%s: left out, %s", cfg.run_dir, error)
        return
    write_record(Path(cfg.run_dir) / RUN_RECORD, Record(study, row, cfg.seed, config, result, environment()))


def reusable(cfg: Any, *paths: Path) -> Optional[Record]:
    """The first record at ``paths`` that holds the result of ``cfg`` (outputs aside), else None."""
    config = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    return next((record for path in paths if path.is_file() and (record := read_record(path)).computed(config)), None)


PROGRAMS: dict[str, Callable[[Any, bool], dict[str, Any]]] = {  # (a row/seed's config, bn) -> its result
    "train": train_measured,
    "crossres": crossres_measured,
    AEON: lambda cfg, _: baselines.fit_aeon(cfg.classifier, cfg.data, cfg.seed),
    FIT_KERNEL: lambda cfg, _: fit_kernel.fit_one(**{key: value for key, value in cfg.items() if key != "run_dir"}),
}
TRAIN_CONFIG_PROGRAMS = ("train", "crossres")  # the others' configs are no train config: they run in this process
