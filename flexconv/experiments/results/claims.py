"""Claims and findings (``kind`` in a study file): pure functions of the measured rows. A claim returns a
:class:`~.judge.Verdict` with its statistic; a finding, sentences about the numbers that are not claims of the paper."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

from flexconv.experiments.results.judge import NOT_RUN, NOT_TESTED, PAIRED, Stat, Verdict, decided, greater, stat
from flexconv.experiments.results.sweep import Runs


@dataclass(frozen=True)
class Beats:
    """Row ``a`` does better than row ``b`` on ``metric`` (higher, or lower with ``higher: false``), or, with a
    ``margin`` (in the metric's units), is worse by less than it; shown times ``scale`` with ``digits`` decimals.
    With ``given`` (row, metric, bound, reason), only while that row's mean metric is at most the bound (the paper's
    precondition); else "not tested yet" for the reason (which formats ``value``, the metric) and what was measured."""

    claim: str
    a: str
    b: str
    label_a: str
    label_b: str
    metric: str = "test_acc"
    higher: bool = True
    scale: float = 100.0
    digits: int = 2
    margin: float = 0.0
    given: Optional[tuple[str, str, float, str]] = None

    def judge(self, runs: Runs) -> Verdict:
        verdict = self.compare(runs)
        if self.given and (value := stat(runs.results[self.given[0]], self.given[1])) and value.mean > self.given[2]:
            reason = self.given[3].format(value=value.fmt(1.0, 2))
            measured = "" if verdict.verdict == NOT_TESTED else f"; measured: {verdict.evidence}"
            return Verdict(self.claim, NOT_TESTED, reason + measured)
        return verdict

    def compare(self, runs: Runs) -> Verdict:
        a, b = stat(runs.results[self.a], self.metric), stat(runs.results[self.b], self.metric)
        if a is None or b is None:
            missing = " and ".join(label for label, s in ((self.label_a, a), (self.label_b, b)) if s is None)
            return Verdict(self.claim, NOT_TESTED, f"{missing}: {NOT_RUN}")
        evidence = f"{self.label_a} {a.fmt(self.scale, self.digits)} vs {self.label_b} {b.fmt(self.scale, self.digits)}"
        if self.margin:
            shift = self.margin if self.higher else -self.margin
            a = Stat(a.mean + shift, a.std, a.n, tuple(v + shift for v in a.values))
            evidence += f", {abs(self.margin) * self.scale:g} points of margin"
        return greater(self.claim, a, b, evidence) if self.higher else greater(self.claim, b, a, evidence)


@dataclass(frozen=True)
class Below:
    """``row``'s mean ``metric`` is below its task's trivial solution ``baseline`` (name, value) over ``divisor``
    (one-sample t-test). With ``short_budget`` (how much less than the paper's budget the row trains), a mean above
    the bound is "not tested yet": a loss still at the baseline cannot tell failing from still learning."""

    claim: str
    row: str
    metric: str
    label: str
    baseline: tuple[str, float]
    divisor: float = 10.0
    scale: float = 1.0
    digits: int = 4
    short_budget: str = ""

    def judge(self, runs: Runs) -> Verdict:
        value, bound = stat(runs.results[self.row], self.metric), self.baseline[1] / self.divisor
        if value is None:
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        evidence = f"{self.label} {value.fmt(self.scale, self.digits)}"
        if value.mean >= bound and self.short_budget:
            return Verdict(self.claim, NOT_TESTED, f"{evidence} {self.short_budget}: too short a budget to judge")
        return greater(self.claim, bound, value, f"{evidence} against {bound * self.scale:.{self.digits}f}")


@dataclass(frozen=True)
class Paired:
    """Rows ``a`` do better than ``b`` by more than ``margin`` (negative: "within -margin of") over data sets, paired
    by position, each side a row key or a published accuracy: the paired t-test of the sets' mean accuracies."""

    claim: str
    a: tuple[Union[str, float], ...]
    b: tuple[Union[str, float], ...]
    label_a: str
    label_b: str
    margin: float = 0.0

    def judge(self, runs: Runs) -> Verdict:
        means = [
            [getattr(stat(runs.results[s], "test_acc"), "mean", None) if isinstance(s, str) else s for s in side]
            for side in (self.a, self.b)
        ]
        known = [(x, y) for x, y in zip(*means) if x is not None and y is not None]
        if not known or len(known) < len(self.a):
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        differences = Stat.of([x - y - self.margin for x, y in known])
        assert differences is not None
        a, b = (f"{100 * sum(side) / len(side):.2f}" for side in zip(*known))
        evidence = f"averages over {len(known)} sets: {self.label_a} {a}, {self.label_b} {b}"
        return greater(self.claim, differences, 0.0, evidence, PAIRED)


@dataclass(frozen=True)
class Distinct:
    """The learned kernel sizes (``kernel_sizes`` of each row's first seed) differ between the layers of one row,
    or, with several rows, between the rows' per-layer lists."""

    claim: str
    rows: tuple[str, ...]

    def judge(self, runs: Runs) -> Verdict:
        sizes = [tuple(map(tuple, r[0]["kernel_sizes"]["learned"])) for k in self.rows if (r := runs.results[k])]
        if not sizes:
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        if len(self.rows) == 1:
            layers = sorted(set(sizes[0]))
            evidence = f"{len(layers)} distinct sizes over {len(sizes[0])} layers, from {layers[0]} to {layers[-1]}"
            return decided(self.claim, len(layers) > 1, evidence)
        evidence = f"{len(set(sizes))} distinct per-layer size lists over {len(sizes)} sets"
        return decided(self.claim, len(sizes) > 1 and len(set(sizes)) == len(sizes), evidence)


@dataclass(frozen=True)
class Best:
    """``row``'s mean ``metric`` is the best (highest, or lowest with ``higher: false``) of ``among`` ((key, label)
    each; rows without a number or with NaN left out): decided by the means, as for one seed of deterministic fits."""

    claim: str
    row: str
    among: tuple[tuple[str, str], ...]
    metric: str
    higher: bool = True
    unit: str = ""

    def judge(self, runs: Runs) -> Verdict:
        stats = {key: stat(runs.results[key], self.metric) for key, _ in self.among}
        means = {key: s.mean for key, s in stats.items() if s is not None and not math.isnan(s.mean)}
        if self.row not in means:
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        best, labels = (max if self.higher else min)(means, key=means.__getitem__), dict(self.among)
        best_text, row_text = (f"{labels[key]} {means[key]:.1f}{self.unit}" for key in (best, self.row))
        return decided(self.claim, best == self.row, f"best {best_text}, {row_text}")


@dataclass(frozen=True)
class Reference:
    """A finding: ``row``'s test accuracy against a published ``accuracy``; ``with_params`` names its parameters."""

    row: str
    label: str
    reference: str
    accuracy: float
    with_params: bool = False

    def lines(self, runs: Runs) -> list[str]:
        results, label = runs.results[self.row], self.label
        if self.with_params:
            label += f" ({(results[0].get('params') if results else None) or 0:,} parameters)"
        value, reference = stat(results, "test_acc"), f"{self.reference} ({100 * self.accuracy:.1f} %)"
        if value is None:
            return [f"- {label}: {NOT_RUN}, nothing to compare with {reference} yet."]
        gap, side = abs(100 * (value.mean - self.accuracy)), "above" if value.mean > self.accuracy else "below"
        return [f"- {label} reaches {value.fmt()} %, {gap:.1f} points {side} {reference}."]
