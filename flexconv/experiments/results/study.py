"""A study: rows, tables, notes, figures, claims and findings as data (a YAML file of ``studies/``, :func:`load_study`;
the page's, in order: :data:`STUDIES`); :func:`run_study` runs its rows and lays out its section. Rows are named by
their key everywhere in a study."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

from flexconv.data.records import DatasetNotFoundError
from flexconv.experiments.results import claims, render
from flexconv.experiments.results.claims import Reference
from flexconv.experiments.results.render import Line, Section
from flexconv.experiments.results.sweep import Context, Row, Runs, run_rows

log = logging.getLogger(__name__)
AnyTable = Union[render.Table, render.KernelSizeTable]
Claim = Union[claims.Beats, claims.Below, claims.Paired, claims.Distinct, claims.Best]
Finding = claims.Reference
Figure = Union[render.Bars, render.Plot]


@dataclass(frozen=True)
class Study:
    """One section of the page. key: the name in ``--studies``, the run folder ``<runs>/<key>/`` and
    ``--override key:...``; rows: run with every seed (at most ``max_seeds``) by ``program`` unless a row names its
    own; then, in this order on the page: tables, notes, figures, claims, findings. batch_norm_reestimated: also
    test every row's checkpoint with re-estimated BatchNorm statistics (results ``bn_reestimated/test/...``)."""

    key: str
    title: str
    rows: tuple[Row, ...] = ()
    claims: tuple[Claim, ...] = ()
    findings: tuple[Finding, ...] = ()
    tables: tuple[AnyTable, ...] = (render.Table(),)
    notes: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()
    program: str = "train"
    max_seeds: Optional[int] = None
    batch_norm_reestimated: bool = False

    def row(self, key: str) -> Row:
        return {row.key: row for row in self.rows}[key]

    def table_rows(self, spec: AnyTable) -> tuple[Row, ...]:
        return tuple(self.row(key) for key in spec.rows) if spec.rows else self.rows


def entries(study: Study, runs: Runs) -> list[dict[str, Any]]:
    """The study's ``results.json`` entries (its tables' rows and metrics), a row's test accuracy with the published
    accuracy of its :class:`~.claims.Reference` as baseline, a :class:`~.claims.Below` claim's metric with its own."""
    baselines = {(c.row, "test_acc"): (c.reference, c.accuracy) for c in study.findings}
    baselines |= {(c.row, c.metric): c.baseline for c in study.claims if isinstance(c, claims.Below)}
    metric_tables = [spec for spec in study.tables if isinstance(spec, render.Table)]
    return [item for spec in metric_tables for item in spec.entries(study.key, study.table_rows(spec), runs, baselines)]


def section_lines(study: Study, runs: Runs, ctx: Context) -> list[Line]:
    """Tables, notes, figure, claims' verdicts, findings."""
    lines: list[Line] = []
    for spec in study.tables:
        lines += [*spec.lines(study.table_rows(spec), runs), ""]
    for note in study.notes:
        lines += [note, ""]
    finished = [row for row in study.rows if runs.results.get(row.key)]  # a row without runs has no bar
    for figure in study.figures if finished else ():
        figure.draw(finished, runs, ctx.out / "figures" / figure.file)
        lines += [f"![{figure.caption}](figures/{figure.file})", ""]
    lines += [claim.judge(runs) for claim in study.claims]
    return lines + [line for finding in study.findings for line in finding.lines(runs)]


def run_study(study: Study, ctx: Context) -> Section:
    """Run ``study``'s rows and lay out its section; a missing dataset turns it into a skipped section."""
    try:
        runs = run_rows(study.rows, ctx, study.key, study.program, study.max_seeds, study.batch_norm_reestimated)
        return Section(study.key, study.title, section_lines(study, runs, ctx), entries=entries(study, runs))
    except DatasetNotFoundError as error:
        log.warning("study %s skipped: %s", study.key, error)
        return Section(study.key, study.key, skipped=str(error))


KINDS: dict[str, type] = {  # the parts a study file names by ``kind``
    re.sub(r"(?<!^)(?=[A-Z])", "_", part.__name__).lower(): part
    for part in (*get_args(Claim), Reference, *get_args(Figure), render.KernelSizeTable)
}


def _build(hint: Any, value: Any) -> Any:
    """``value`` (parsed YAML) as the type ``hint``: lists as tuples, mappings as dataclasses, a mapping with a
    ``kind`` as the part of :data:`KINDS` it names."""
    if value is None:
        return None
    if isinstance(value, dict) and (dataclasses.is_dataclass(hint) or get_origin(hint) is Union):
        fields = dict(value)
        kind = fields.pop("kind", None)
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        default = get_args(hint)[0] if get_origin(hint) is Union else hint  # a table is a metric table by default
        cls = KINDS[kind] if kind is not None else default
        hints = get_type_hints(cls)
        if unknown := sorted(set(fields) - set(hints)):
            raise ValueError(f"{cls.__name__} has no field {unknown[0]!r}; its fields: {', '.join(hints)}")
        return cls(**{key: _build(hints[key], item) for key, item in fields.items()})
    if get_origin(hint) is Union:
        return _build(get_args(hint)[0], value)  # Optional[X]
    if get_origin(hint) is tuple:
        args = get_args(hint)[:1] * len(value) if get_args(hint)[-1] is Ellipsis else get_args(hint)
        return tuple(_build(arg, item) for arg, item in zip(args, value))
    return value


def load_study(path: Path) -> Study:
    """The study in the YAML file ``path`` (key: its stem; fields: :class:`Study`'s, parts named by ``kind``; keys
    starting with ``_`` hold anchors; ``${memoryless:L}`` and ``${batch_norm_batches:}`` interpolate). ValueError
    names the file and the problem."""
    from omegaconf import OmegaConf

    from flexconv.data.synthetic import copy_memory_memoryless_loss
    from flexconv.train.commands import BATCH_NORM_BATCHES

    OmegaConf.register_new_resolver("memoryless", copy_memory_memoryless_loss, replace=True)
    OmegaConf.register_new_resolver("batch_norm_batches", lambda: BATCH_NORM_BATCHES, replace=True)
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert isinstance(data, dict)
    fields = {str(key): value for key, value in data.items() if not str(key).startswith("_")}
    try:
        return _build(Study, {"key": path.stem, **fields})  # type: ignore[no-any-return]
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: not a study: {error}") from error


STUDY_FILES = Path(__file__).with_name("studies")
PAGE_ORDER = tuple("mnist1d fashion_mnist crossres sfashion uea fit_kernel synthetic timeseries dropin".split())
STUDIES: dict[str, Study] = {key: load_study(STUDY_FILES / f"{key}.yaml") for key in PAGE_ORDER}
"""The studies of the page, in its order: one YAML file each in ``studies/``."""
