"""What a study is: rows to run, tables, notes, a figure and claims, all data.

A :class:`Study` is written as data (``Study(key, title, rows, claims, ...)``); :func:`run_study`
runs its rows (:mod:`~flexconv.experiments.results.sweep`) and lays out its section of the page:
tables, notes, the figure, then one generated sentence per claim. Rows are named by their key
everywhere in a study (tables, claims, figures), never by their displayed name. A study whose page
part is not tables of rows (learned kernel sizes) gives its own ``body``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol

from flexconv.experiments.results.judge import NOT_RUN, NOT_TESTED, Stat, Verdict, beats, decided, greater, stat
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
    """The claim that ``row``'s mean ``metric`` is below ``bound`` (one-sample t-test); the evidence is
    ``<label> <value> against <bound>`` and the p-value.

    short_budget: set when the row trains for less than the paper's budget; it says how much (e.g. "after 10 of
    the preset's 50 epochs"). A mean below the bound within it is tested as usual; one above it is "not tested yet"
    with that budget as the reason, since a loss still at the baseline then cannot tell a method that fails from one
    still learning.
    baseline: the task's trivial solution for ``metric`` as (name, value), e.g. the memoryless loss; ``results.json``
    carries it with the row's entry.
    """

    claim: str
    row: str
    metric: str
    bound: float
    label: str
    scale: float = 1.0
    digits: int = 4
    short_budget: str = ""
    baseline: Optional[tuple[str, float]] = None

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


@dataclass(frozen=True)
class Best:
    """The claim that ``row``'s mean ``metric`` is the best (highest; lowest with ``higher=False``) of ``among``'s
    ((key, label) each; rows without a number or with NaN left out), decided by the means; the evidence names the
    best row and ``row`` with their means."""

    claim: str
    row: str
    among: tuple[tuple[str, str], ...]
    metric: str
    higher: bool = True
    digits: int = 1
    unit: str = ""

    def judge(self, runs: Runs) -> Verdict:
        stats = {key: stat(runs.results[key], self.metric) for key, _ in self.among}
        means = {key: s.mean for key, s in stats.items() if s is not None and not math.isnan(s.mean)}
        if self.row not in means:
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        best = (max if self.higher else min)(means, key=means.__getitem__)
        labels = dict(self.among)
        best_text, row_text = (f"{labels[key]} {means[key]:.{self.digits}f}{self.unit}" for key in (best, self.row))
        return decided(self.claim, best == self.row, f"best {best_text}, {row_text}")


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
class Plot:
    """A figure drawn by ``plot(results, path)`` from the first seed's result of each row (rows in order)."""

    file: str
    caption: str
    plot: Callable[[list[dict[str, Any]], Path], None]

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        self.plot([runs.results[row.key][0] for row in rows], path)


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
    tables, notes, figure, figures: the page part of the default body (tables, then each note as a paragraph,
        then the figure and the further figures, then the claims); the tables' rows and metrics are also the
        study's entries in ``results.json``.
    program: "train", "crossres" or "fit_kernel" (what runs each row).
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
    figures: tuple[Figure, ...] = ()
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
    baselines |= {(c.row, c.metric): c.baseline for c in study.claims if isinstance(c, Below) and c.baseline}
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
    for figure in [figure for figure in (study.figure, *study.figures) if figure is not None and finished]:
        figure.draw(finished, runs, ctx.figures / figure.file)
        lines += [figure_line(figure.file, figure.caption), ""]
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
