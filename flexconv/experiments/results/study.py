"""What a study is: rows to run, tables, notes, a figure and claims, all data.

A :class:`Study` is written as data (``Study(key, title, rows, claims, ...)``); :func:`run_study`
runs its rows (:mod:`~flexconv.experiments.results.sweep`) and lays out its section of the page:
tables, notes, the figure, then one generated sentence per claim. Rows are named by their key
everywhere in a study (tables, claims, figures), never by their displayed name. A study whose page
part is not tables of rows (kernel fitting, learned kernel sizes) gives its own ``body``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol

from flexconv.experiments.results.judge import NOT_RUN, NOT_TESTED, Stat, Verdict, beats, greater, stat
from flexconv.experiments.results.render import ACCURACY, Line, Metric, Section, bar_figure, entry, figure_line, table
from flexconv.experiments.results.sweep import Context, DataUnavailable, Row, Runs, run_rows

log = logging.getLogger(__name__)


# -- claims: each judges the measured rows (a pure function of them) -------------------------------
class Claim(Protocol):
    def judge(self, runs: Runs) -> Verdict:
        """The claim's verdict on the measured rows."""
        ...


@dataclass(frozen=True)
class Beats:
    """The paper's claim that row ``a`` does better than row ``b`` on ``metric`` (higher or lower is better)."""

    claim: str
    a: str
    b: str
    label_a: str
    label_b: str
    metric: str = "test_acc"
    higher: bool = True
    scale: float = 100.0  # the metric as shown: accuracies in %, losses as they are (scale 1, more digits)
    digits: int = 2

    def judge(self, runs: Runs) -> Verdict:
        a, b = stat(runs.results[self.a], self.metric), stat(runs.results[self.b], self.metric)
        return beats(self.claim, a, b, (self.label_a, self.label_b), self.higher, self.scale, self.digits)


@dataclass(frozen=True)
class Below:
    """The claim that ``row``'s mean ``metric`` is below its task's trivial solution ``baseline`` (name, value)
    divided by ``divisor`` (one-sample t-test); the evidence is ``<label> <value> against <bound>`` and the p-value.

    short_budget: set when the row trains for less than the paper's budget, saying how much (e.g. "after 10 of the
    preset's 50 epochs"): a mean above the bound is then "not tested yet", since a loss still at the baseline cannot
    tell a method that fails from one still learning.
    """

    claim: str
    row: str
    metric: str
    label: str
    baseline: tuple[str, float]
    divisor: float = 10.0
    scale: float = 1.0
    digits: int = 4
    short_budget: str = ""

    @property
    def bound(self) -> float:
        return self.baseline[1] / self.divisor

    def judge(self, runs: Runs) -> Verdict:
        value = stat(runs.results[self.row], self.metric)
        if value is None:
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        evidence = f"{self.label} {value.fmt(self.scale, self.digits)}"
        if value.mean >= self.bound and self.short_budget:
            return Verdict(self.claim, NOT_TESTED, f"{evidence} {self.short_budget}: too short a budget to judge")
        return greater(self.claim, self.bound, value, f"{evidence} against {self.bound * self.scale:.{self.digits}f}")


@dataclass(frozen=True)
class SmallLoss:
    """The claim that row ``b`` loses less than ``max_points`` accuracy points against row ``a`` (Welch's t-test of
    the difference of their means against the margin).

    evidence: a format string of ``loss`` (the points lost).
    """

    claim: str
    a: str
    b: str
    max_points: float
    evidence: str

    def judge(self, runs: Runs) -> Verdict:
        a, b = stat(runs.results[self.a], "test_acc"), stat(runs.results[self.b], "test_acc")
        if not (a and b):
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        margin = self.max_points / 100
        shifted = Stat(b.mean + margin, b.std, b.n, tuple(v + margin for v in b.values))
        return greater(self.claim, shifted, a, self.evidence.format(loss=100 * (a.mean - b.mean)))


@dataclass(frozen=True)
class Given:
    """``claim`` (a :class:`Beats`), tested only when ``row``'s mean ``metric`` is at most ``bound``: the
    precondition under which the paper makes it. Otherwise "not tested yet", with ``unmet`` (a format
    string of ``value``, the measured metric, to 2 decimals) as the reason, followed by the comparison's
    numbers when both rows have them, so that the reader sees what the verdict would have read."""

    claim: Beats
    row: str
    metric: str
    bound: float
    unmet: str

    def judge(self, runs: Runs) -> Verdict:
        value = stat(runs.results[self.row], self.metric)
        verdict = self.claim.judge(runs)
        if value is not None and value.mean > self.bound:
            reason = self.unmet.format(value=value.fmt(1.0, 2))
            measured = reason if verdict.verdict == NOT_TESTED else f"{reason}; measured: {verdict.evidence}"
            return Verdict(self.claim.claim, NOT_TESTED, measured)
        return verdict


# -- findings: sentences about the numbers that are not claims of the paper ------------------------
class Finding(Protocol):
    def lines(self, runs: Runs) -> list[str]: ...


@dataclass(frozen=True)
class Change:
    """A finding, not a claim of the paper: ``before`` -> ``after`` (two metrics) for each labelled row
    with both, after the sentence ``finding``."""

    finding: str
    before: str
    after: str
    rows: tuple[tuple[str, str], ...]  # (key, label)

    def lines(self, runs: Runs) -> list[str]:
        changes = [
            f"{label} {b.fmt()} → {a.fmt()}"
            for key, label in self.rows
            if (b := stat(runs.results[key], self.before)) and (a := stat(runs.results[key], self.after))
        ]
        return [f"- {self.finding} {'; '.join(changes)}."] if changes else []


@dataclass(frozen=True)
class Reference:
    """A sentence placing ``row``'s test accuracy against a published ``accuracy`` (a finding, no verdict).

    with_params: the label names the row's parameter count.
    """

    row: str
    label: str
    reference: str
    accuracy: float
    with_params: bool = False

    def lines(self, runs: Runs) -> list[str]:
        results = runs.results[self.row]
        label = self.label
        if self.with_params:
            label += f" ({(results[0].get('params') if results else None) or 0:,} parameters)"
        value = stat(results, "test_acc")
        if value is None:
            return [
                f"- {label}: {NOT_RUN}, nothing to compare with {self.reference} ({100 * self.accuracy:.1f} %) yet."
            ]
        side = "above" if value.mean > self.accuracy else "below"
        gap = abs(100 * (value.mean - self.accuracy))
        reference = f"{self.reference} ({100 * self.accuracy:.1f} %)"
        return [f"- {label} reaches {value.fmt()} %, {gap:.1f} points {side} {reference}."]


# -- figures --------------------------------------------------------------------------------------
class Figure(Protocol):
    @property
    def file(self) -> str:
        """The figure's file name in the page's figures/ folder."""
        ...

    @property
    def caption(self) -> str: ...

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        """Draw the figure of the measured ``rows`` into ``path``."""
        ...


@dataclass(frozen=True)
class Bars:
    """Mean ± std of each of ``metrics`` per row, as bars (side by side, with a legend, for several metrics).

    metrics: (result key, legend label) each.
    """

    file: str
    caption: str
    ylabel: str
    metrics: tuple[tuple[str, str], ...] = (("test_acc", "test accuracy"),)

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        series = [(label, [stat(runs.results[row.key], metric) for row in rows]) for metric, label in self.metrics]
        bar_figure([row.name for row in rows], series, path, self.ylabel)


@dataclass(frozen=True)
class Curves:
    """Mean ± std test accuracy against ``x``, one line per label over its rows (keys, in ``x`` order)."""

    file: str
    caption: str
    x: tuple[float, ...]
    xlabel: str
    lines: tuple[tuple[str, tuple[str, ...]], ...]

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.5, 3.2), layout="constrained")
        ax = fig.subplots()
        for label, keys in self.lines:
            measured = [(x, stat(runs.results[key], "test_acc")) for x, key in zip(self.x, keys)]
            points = [(x, s) for x, s in measured if s is not None]  # rows without a finished seed are left out
            ax.errorbar(
                [x for x, _ in points],
                [100 * s.mean for _, s in points],
                yerr=[100 * s.std for _, s in points],
                marker="o",
                capsize=3,
                label=label,
            )
        ax.set(xlabel=self.xlabel, ylabel="test accuracy (%)")
        ax.legend()
        fig.savefig(path, dpi=110)


# -- a study --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """A table of some rows (keys; empty: every row of the study) with these metric columns."""

    rows: tuple[str, ...] = ()
    metrics: tuple[Metric, ...] = (ACCURACY,)


Body = Callable[["Study", Runs, Context], list[Line]]  # the page part of a study that is not tables of rows


@dataclass(frozen=True)
class Study:
    """One section of the results page.

    key: the name in ``--studies``, the run folder ``<runs>/<key>/`` and ``--override key:...``.
    title: the section heading.  rows: what is run, with every seed.  claims: judged after the figure, then
        the findings' sentences.
    tables, notes, figure: the page part of the default body (tables, then each note as a paragraph,
        then the figure, then the claims); the tables' rows and metrics are also the study's entries
        in ``results.json``.
    program: "train" or "crossres" (what runs each row).
    runs_in: another study whose run folders and ``--override`` the rows share (the same run, reused).
    max_seeds: run at most the first this many seeds.
    batch_norm_reestimated: also test every row's checkpoint with re-estimated BatchNorm statistics (the
        result keys ``bn_reestimated/test/...``), which tells weights that have not learnt the task from
        running statistics that trail them.
    body: a page part of its own instead of the default one.
    """

    key: str
    title: str
    rows: tuple[Row, ...] = ()
    claims: tuple[Claim, ...] = ()
    findings: tuple[Finding, ...] = ()
    tables: tuple[Table, ...] = (Table(),)
    notes: tuple[str, ...] = ()
    figure: Optional[Figure] = None
    program: str = "train"
    runs_in: Optional[str] = None
    max_seeds: Optional[int] = None
    batch_norm_reestimated: bool = False
    body: Optional[Body] = None

    def row(self, key: str) -> Row:
        """The row of that key (KeyError for an unknown key)."""
        return {row.key: row for row in self.rows}[key]

    def table_rows(self, spec: Table) -> tuple[Row, ...]:
        """The rows of a table, in its order."""
        return tuple(self.row(key) for key in spec.rows) if spec.rows else self.rows


def entries(study: Study, runs: Runs) -> list[dict[str, Any]]:
    """The study's ``results.json`` entries: one per row and metric of its tables; a row's test accuracy
    carries the published reference of its :class:`Reference` claim as its baseline, the metric of a
    :class:`Below` claim the task's baseline that claim names."""
    baselines = {(c.row, "test_acc"): (c.reference, c.accuracy) for c in study.findings if isinstance(c, Reference)}
    baselines |= {(c.row, c.metric): c.baseline for c in study.claims if isinstance(c, Below)}
    return [
        entry(
            study.key,
            row.key,
            row.name,
            metric.key,
            runs.results[row.key],
            runs.commands[row.key],
            baselines.get((row.key, metric.key)),
        )
        for spec in study.tables
        for row in study.table_rows(spec)
        for metric in spec.metrics
    ]


def tables_body(study: Study, runs: Runs, ctx: Context) -> list[Line]:
    """The default page part: tables, notes, figure, claims' verdicts, findings."""
    lines: list[Line] = []
    for spec in study.tables:
        lines += [*table(runs.table_rows(study.table_rows(spec)), spec.metrics), ""]
    for note in study.notes:
        lines += [note, ""]
    finished = [row for row in study.rows if runs.results.get(row.key)]  # a row without runs has no bar
    if study.figure is not None and finished:
        study.figure.draw(finished, runs, ctx.figures / study.figure.file)
        lines += [figure_line(study.figure.file, study.figure.caption), ""]
    lines += [claim.judge(runs) for claim in study.claims]
    return lines + [line for finding in study.findings for line in finding.lines(runs)]


def run_study(study: Study, ctx: Context) -> Section:
    """Run ``study``'s rows and lay out its section; a missing dataset turns it into a skipped section."""
    start = time.perf_counter()
    try:
        runs = run_rows(
            study.rows, ctx, study.runs_in or study.key, study.program, study.max_seeds, study.batch_norm_reestimated
        )
        lines = (study.body or tables_body)(study, runs, ctx)
        section = Section(study.key, study.title, lines, entries=entries(study, runs))
    except DataUnavailable as error:
        log.warning("study %s skipped: %s", study.key, error)
        section = Section(study.key, study.key, skipped=str(error))
    log.info("study %s: %.0f s", study.key, time.perf_counter() - start)
    return section


# -- studies as data ------------------------------------------------------------------------------
KINDS: dict[str, type] = {
    "beats": Beats,
    "below": Below,
    "small_loss": SmallLoss,
    "given": Given,
    "change": Change,
    "reference": Reference,
    "bars": Bars,
    "curves": Curves,
}
"""The claims, findings and figures a study file names by ``kind``."""


def _built(value: Any) -> Any:
    """YAML lists as tuples, and each mapping with a ``kind`` as the claim, finding or figure it names."""
    if isinstance(value, list):
        return tuple(_built(item) for item in value)
    if isinstance(value, dict):
        fields = {key: _built(item) for key, item in value.items()}
        return KINDS[fields.pop("kind")](**fields) if "kind" in fields else fields
    return value


def load_study(path: Path) -> Study:
    """The study in the YAML file ``path`` (key: the file's stem). Its keys are :class:`Study`'s fields; rows and
    tables are mappings of :class:`Row`'s and :class:`Table`'s fields, a table's metrics of :class:`Metric`'s;
    claims, findings and the figure are mappings of their class's fields plus ``kind`` (a key of :data:`KINDS`);
    top-level keys starting with ``_`` hold YAML anchors. Interpolations: ``${memoryless:L}`` (copy memory's
    memoryless loss at length L), ``${batch_norm_batches:}``. ValueError names the file and what is wrong."""
    from omegaconf import OmegaConf

    from flexconv.data.synthetic import copy_memory_memoryless_loss
    from flexconv.train.commands import BATCH_NORM_BATCHES

    OmegaConf.register_new_resolver("memoryless", copy_memory_memoryless_loss, replace=True)
    OmegaConf.register_new_resolver("batch_norm_batches", lambda: BATCH_NORM_BATCHES, replace=True)
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert isinstance(data, dict)
    try:
        fields = {key: _built(value) for key, value in data.items() if not str(key).startswith("_")}
        rows = tuple(Row(**row) for row in fields.pop("rows", ()))
        tables = tuple(
            Table(
                spec.get("rows", ()), tuple(Metric(**m) for m in spec["metrics"]) if "metrics" in spec else (ACCURACY,)
            )
            for spec in fields.pop("tables", ({},))
        )
        return Study(path.stem, rows=rows, tables=tables, **fields)
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a study: {error}") from error
