"""Claims and findings: pure functions of a study's measured rows (:class:`~.sweep.Runs`).

A claim returns a :class:`~.judge.Verdict` with its statistic; a finding returns sentences about the numbers
that are not claims of the paper. A study file names each by its ``kind`` (:data:`~.study.KINDS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Union

from flexconv.experiments.results.judge import NOT_RUN, NOT_TESTED, PAIRED, Stat, Verdict, beats, decided, greater, stat
from flexconv.experiments.results.sweep import Runs


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


@dataclass(frozen=True)
class Paired:
    """The claim that rows ``a`` do better than ``b`` by more than ``margin`` over data sets: ``a`` and ``b`` are
    paired by position (one per set), each a row key or a published constant; the test is the paired t-test over
    the sets (of the differences of the rows' means). A negative margin reads "within -margin of"."""

    claim: str
    a: tuple[Union[str, float], ...]
    b: tuple[Union[str, float], ...]
    label_a: str
    label_b: str
    margin: float = 0.0

    def judge(self, runs: Runs) -> Verdict:
        means = [[_mean(runs, side) for side in sides] for sides in (self.a, self.b)]
        if any(mean is None for side in means for mean in side):
            return Verdict(self.claim, NOT_TESTED, NOT_RUN)
        a, b = ([float(m) for m in side if m is not None] for side in means)
        differences = Stat.of([x - y - self.margin for x, y in zip(a, b)])
        assert differences is not None
        evidence = (
            f"averages over {len(a)} sets: {self.label_a} {100 * sum(a) / len(a):.2f}, "
            f"{self.label_b} {100 * sum(b) / len(b):.2f}"
        )
        return greater(self.claim, differences, 0.0, evidence, PAIRED)


def _mean(runs: Runs, side: Union[str, float]) -> Optional[float]:
    """A row's mean test accuracy over its seeds (None without any), or a constant as it is."""
    if isinstance(side, str):
        value = stat(runs.results[side], "test_acc")
        return None if value is None else value.mean
    return side


@dataclass(frozen=True)
class Distinct:
    """The claim that the learned kernel sizes differ: between the layers of one row, or, with several rows, between
    the rows' per-layer lists (each row's first seed, ``kernel_sizes`` of its result)."""

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
