"""Judge: the statistics over seeds, and a claim's verdict with its test, decided as the page says (``page.yaml``)."""

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
        spread = statistics.stdev(kept) if len(kept) > 1 else 0.0
        return cls(statistics.fmean(kept), spread, len(kept), kept) if kept else None

    def fmt(self, scale: float = 100.0, digits: int = 2, notation: str = "f") -> str:
        """``mean ± std`` (``mean`` alone for one seed), both times ``scale``, in the format ``.<digits><notation>``."""
        numbers = (self.mean,) if self.n == 1 else (self.mean, self.std)
        return " ± ".join(f"{number * scale:.{digits}{notation}}" for number in numbers)


def stat(results: Results, key: str) -> Optional[Stat]:
    """The statistics of ``key`` over a row's seeds."""
    return Stat.of([r.get(key) for r in results])


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict, the numbers as the page states them (evidence) and its test (None without one), t, p (None
    without a test or with one seed), the difference of the means in the claim's direction and the seeds per side."""

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


def greater(claim: str, a: Union[Stat, float], b: Union[Stat, float], evidence: str, test: str = "") -> Verdict:
    """The claim that ``a``'s mean exceeds ``b``'s, one of them possibly a constant: Welch's t-test of two samples,
    the one-sample t-test (named ``test`` when given) of a sample against a constant. ``evidence`` gets the p-value."""
    from scipy import stats

    samples = [side for side in (a, b) if isinstance(side, Stat)]
    difference = (a.mean if isinstance(a, Stat) else a) - (b.mean if isinstance(b, Stat) else b)
    name, n = test or (WELCH if len(samples) == 2 else ONE_SAMPLE), tuple(sample.n for sample in samples)
    if any(sample.n < 2 for sample in samples):
        evidence += ", one seed: no spread to test against"
        return Verdict(claim, INCONCLUSIVE, evidence, name, None, None, difference, n)
    if all(sample.std == 0.0 for sample in samples):  # identical seeds: any difference is exact
        outcome = HOLDS if difference > 0 else DOES_NOT_HOLD if difference < 0 else INCONCLUSIVE
        t = math.copysign(math.inf, difference)
        return Verdict(claim, outcome, f"{evidence}, p = 0.000", name, t, 0.0, difference, n)
    if isinstance(a, Stat) and isinstance(b, Stat):
        result, sign = stats.ttest_ind(a.values, b.values, equal_var=False), 1.0
    elif isinstance(a, Stat):
        result, sign = stats.ttest_1samp(a.values, b), 1.0
    else:
        assert isinstance(b, Stat)
        result, sign = stats.ttest_1samp(b.values, a), -1.0  # a's mean minus b's, as ``difference``
    p = float(result.pvalue)
    outcome = INCONCLUSIVE if p >= ALPHA else HOLDS if difference > 0 else DOES_NOT_HOLD
    return Verdict(claim, outcome, f"{evidence}, p = {p:.3f}", name, sign * float(result.statistic), p, difference, n)


def decided(claim: str, outcome: Optional[bool], evidence: str) -> Verdict:
    """A verdict decided without a test (a count, a comparison without seeds); None: not tested yet."""
    return Verdict(claim, NOT_TESTED if outcome is None else HOLDS if outcome else DOES_NOT_HOLD, evidence)
