"""Judging the paper's claims: pure functions from a study's measured rows to :class:`Verdict` records.

A claim compares numbers over seeds. Two samples are compared with Welch's t-test
(:func:`scipy.stats.ttest_ind`, ``equal_var=False``), a sample against a published or derived constant with the
one-sample t-test (:func:`scipy.stats.ttest_1samp`); both two-sided at :data:`ALPHA`. A claim holds when the
difference goes its way and p < ALPHA, does not hold when it goes the other way and p < ALPHA, and is
inconclusive when the difference is within the noise (p >= ALPHA, or one seed: no spread to test against). A
claim whose rows have no numbers is "not tested yet". The verdict record carries the test's name, t, p, the
difference of the means and the seeds per side, which ``results.json`` publishes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

Results = list[dict[str, Any]]  # one result dict per finished seed of a row
HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_TESTED = "holds", "does not hold", "inconclusive", "not tested yet"
NOT_RUN = "no finished run at this budget yet"  # what a claim or row without numbers says
ALPHA = 0.05
WELCH = f"Welch's t-test, two-sided, alpha {ALPHA}"
ONE_SAMPLE = f"one-sample t-test, two-sided, alpha {ALPHA}"
PAIRED = f"paired t-test over the data sets, two-sided, alpha {ALPHA}"
DESCRIPTION = (
    f"Welch's t-test over seeds (two-sided, α = {ALPHA}; against a fixed bound, the one-sample t-test; over data "
    "sets, the paired t-test of the sets' means): a claim "
    f"holds when the difference goes its way and p < {ALPHA}, does not hold when it goes the other way and "
    f"p < {ALPHA}, and is inconclusive when the difference is within the noise (p ≥ {ALPHA}, or one seed, which "
    "has no spread to test against)"
)


@dataclass
class Stat:
    """Mean and standard deviation over seeds (std 0 for a single seed), and the values themselves."""

    mean: float
    std: float
    n: int
    values: tuple[float, ...] = ()

    @classmethod
    def of(cls, values: Sequence[Optional[float]]) -> Optional[Stat]:
        """The statistics of the values that are not None; None when there are none."""
        kept = tuple(float(v) for v in values if v is not None)
        if not kept:
            return None
        return cls(statistics.fmean(kept), statistics.stdev(kept) if len(kept) > 1 else 0.0, len(kept), kept)

    def fmt(self, scale: float = 100.0, digits: int = 2) -> str:
        """``mean ± std`` (``mean`` alone for one seed), both times ``scale``."""
        if self.n == 1:
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.std * scale:.{digits}f}"


def stat(results: Results, key: str) -> Optional[Stat]:
    """The statistics of ``key`` over a row's seeds."""
    return Stat.of([r.get(key) for r in results])


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict on the numbers and what decided it.

    verdict: HOLDS, DOES_NOT_HOLD, INCONCLUSIVE or NOT_TESTED; evidence: the numbers as the page states them;
    test: the test's name (None when a count or a comparison of means without seeds decided it);
    t, p: the test's statistic and p-value (None without a test, or with one seed); difference: the mean
    difference in the claim's direction (positive: the claim's way); n: the seeds per side.
    """

    claim: str
    verdict: str
    evidence: str
    test: Optional[str] = None
    t: Optional[float] = None
    p: Optional[float] = None
    difference: Optional[float] = None
    n: tuple[int, ...] = ()

    def sentence(self) -> str:
        """The page's line: the paper's claim, whether the numbers support it and why."""
        return f"- **Claim:** {self.claim} **Here:** {self.verdict} ({self.evidence})."

    def entry(self, study: str) -> dict[str, Any]:
        """The verdict as an entry of ``results.json``'s claims."""
        fields = ("claim", "verdict", "evidence", "test", "t", "p", "difference", "n")
        return {"study": study, **{name: getattr(self, name) for name in fields}}


Side = Union[Stat, float]  # a sample over seeds, or a constant


def greater(claim: str, a: Side, b: Side, evidence: str, test: Optional[str] = None) -> Verdict:
    """The claim that ``a``'s mean exceeds ``b``'s, tested over seeds (one of them may be a constant): Welch's
    t-test of two samples, the one-sample t-test of a sample against a constant (named ``test`` when given: a
    sample of paired differences). ``evidence`` ends with the p-value."""
    from scipy import stats

    samples = [side for side in (a, b) if isinstance(side, Stat)]
    mean_a, mean_b = (side.mean if isinstance(side, Stat) else side for side in (a, b))
    difference = mean_a - mean_b
    name = test or (WELCH if len(samples) == 2 else ONE_SAMPLE)
    n = tuple(sample.n for sample in samples)
    if any(sample.n < 2 for sample in samples):
        return Verdict(
            claim, INCONCLUSIVE, f"{evidence}, one seed: no spread to test against", name, None, None, difference, n
        )
    if all(sample.std == 0.0 for sample in samples):  # identical seeds: any difference is exact
        outcome = HOLDS if difference > 0 else DOES_NOT_HOLD if difference < 0 else INCONCLUSIVE
        return Verdict(
            claim, outcome, f"{evidence}, p = 0.000", name, math.copysign(math.inf, difference), 0.0, difference, n
        )
    if isinstance(a, Stat) and isinstance(b, Stat):
        result = stats.ttest_ind(a.values, b.values, equal_var=False)
        t = float(result.statistic)
    elif isinstance(a, Stat):
        result = stats.ttest_1samp(a.values, b)
        t = float(result.statistic)
    else:
        assert isinstance(b, Stat)
        result = stats.ttest_1samp(b.values, a)
        t = -float(result.statistic)  # a's mean minus b's, as ``difference``
    p = float(result.pvalue)
    outcome = INCONCLUSIVE if p >= ALPHA else HOLDS if difference > 0 else DOES_NOT_HOLD
    return Verdict(claim, outcome, f"{evidence}, p = {p:.3f}", name, t, p, difference, n)


def decided(claim: str, outcome: Optional[bool], evidence: str) -> Verdict:
    """A verdict decided by a count or a comparison without seeds to test (a fit, sizes, averages over sets);
    None: not tested yet."""
    return Verdict(claim, NOT_TESTED if outcome is None else HOLDS if outcome else DOES_NOT_HOLD, evidence)


def beats(
    claim: str,
    a: Optional[Stat],
    b: Optional[Stat],
    names: tuple[str, str],
    higher: bool = True,
    scale: float = 100.0,
    digits: int = 2,
) -> Verdict:
    """The claim that ``a`` does better than ``b`` (higher, or lower with ``higher=False``); not tested yet
    without numbers on a side."""
    if a is None or b is None:
        missing = " and ".join(name for name, value in zip(names, (a, b)) if value is None)
        return Verdict(claim, NOT_TESTED, f"{missing}: {NOT_RUN}")
    evidence = f"{names[0]} {a.fmt(scale, digits)} vs {names[1]} {b.fmt(scale, digits)}"
    return greater(claim, a, b, evidence) if higher else greater(claim, b, a, evidence)
