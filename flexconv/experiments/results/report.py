"""The results page: numbers over seeds, generated verdict sentences, tables, figures, the page.

Nothing here runs anything: every function takes measured results (one dict per seed, as
:func:`flexconv.train.commands.train` returns them) and returns markdown lines, or draws a figure.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

Results = list[dict[str, Any]]  # one result dict per finished seed of a row


# -- numbers --------------------------------------------------------------------------------------
@dataclass
class Stat:
    """Mean and standard deviation over seeds (std 0 for a single seed)."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[Optional[float]]) -> Optional[Stat]:
        """The statistics of the values that are not None; None when there are none."""
        values = [float(v) for v in values if v is not None]
        if not values:
            return None
        return cls(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values))

    def fmt(self, scale: float = 100.0, digits: int = 2) -> str:
        """``mean ± std`` (``mean`` alone for one seed), both times ``scale``."""
        if self.n == 1:
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.std * scale:.{digits}f}"


def stat(results: Results, key: str) -> Optional[Stat]:
    """The statistics of ``key`` over a row's seeds."""
    return Stat.of([r.get(key) for r in results])


def fmt_params(results: Results) -> str:
    params = results[0].get("params") if results else None
    return f"{params:,}" if params else "–"


def fmt_time(results: Results) -> str:
    """Mean wall time per seed, per device that trained the seeds: plain for the CPU ("1234"), named for a GPU
    ("250 on NVIDIA H200"), and how many seeds have no known time (resumed from a checkpoint that kept none:
    "2 unknown"); results without a ``device`` were trained on the CPU (before devices were recorded)."""
    by_device: dict[str, list[float]] = {}
    for r in results:
        if r.get("wall_time_s") is not None:
            by_device.setdefault(r.get("device", CPU), []).append(r["wall_time_s"])
    parts = [
        f"{statistics.fmean(times):.0f}" + ("" if device == CPU else f" on {device}")
        for device, times in by_device.items()
    ]
    unknown = sum(1 for r in results if r.get("wall_time_s") is None and "device" in r)
    return "; ".join(parts + ([f"{unknown} unknown"] if unknown else [])) or "–"


CPU = "cpu"  # the device of a result trained without a GPU
NOT_RUN = "no finished run at this budget yet"  # what a claim or row without numbers says
HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_TESTED = "holds", "does not hold", "inconclusive", "not tested yet"
ALPHA = 0.05
TEST = (
    f"Welch's t-test over seeds (two-sided, α = {ALPHA}; against a fixed bound, the one-sample t-test): a claim "
    f"holds when the difference goes its way and p < {ALPHA}, does not hold when it goes the other way and "
    f"p < {ALPHA}, and is inconclusive when the difference is within the noise (p ≥ {ALPHA}, or one seed, which "
    "has no spread to test against)"
)


@dataclass(frozen=True)
class SeedTest:
    """A t-test of whether ``difference`` (a mean over seeds minus another, or minus a bound) is 0: its outcome
    for a claim that says the difference is positive, and the p-value (None with a single seed)."""

    outcome: str
    p: Optional[float]

    @classmethod
    def of(cls, difference: float, *samples: Stat) -> SeedTest:
        """Welch's test (one-sample with one ``samples`` entry; a bound contributes no variance)."""
        from scipy import stats

        if any(sample.n < 2 for sample in samples):
            return cls(INCONCLUSIVE, None)
        variances = [sample.std**2 / sample.n for sample in samples]
        error = math.sqrt(sum(variances))
        if error == 0.0:  # identical seeds: any difference is exact
            return cls(HOLDS if difference > 0 else DOES_NOT_HOLD if difference < 0 else INCONCLUSIVE, 0.0)
        freedom = sum(variances) ** 2 / sum(v**2 / (sample.n - 1) for v, sample in zip(variances, samples))
        p = float(2 * stats.t.sf(abs(difference) / error, freedom))
        if p >= ALPHA:
            return cls(INCONCLUSIVE, p)
        return cls(HOLDS if difference > 0 else DOES_NOT_HOLD, p)

    def fmt(self) -> str:
        return "one seed: no spread to test against" if self.p is None else f"p = {self.p:.3f}"


# -- sentences ------------------------------------------------------------------------------------
def verdict(claim: str, outcome: Optional[bool] | str, evidence: str) -> str:
    """One generated sentence: the paper's claim, whether the numbers support it and why. ``outcome``: one of
    HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_TESTED, or a bool for a claim decided without seeds to test (a fit
    or a count); None: not tested yet."""
    if not isinstance(outcome, str):
        outcome = NOT_TESTED if outcome is None else HOLDS if outcome else DOES_NOT_HOLD
    return f"- **Claim:** {claim} **Here:** {outcome} ({evidence})."


def better(
    a: Optional[Stat],
    b: Optional[Stat],
    name_a: str,
    name_b: str,
    higher: bool = True,
    scale: float = 100.0,
    digits: int = 2,
) -> tuple[str, str]:
    """Whether ``a`` beats ``b`` (:class:`SeedTest` of the difference of their means) and the evidence;
    NOT_TESTED without numbers."""
    if a is None or b is None:
        missing = " and ".join(name for name, value in ((name_a, a), (name_b, b)) if value is None)
        return NOT_TESTED, f"{missing}: {NOT_RUN}"
    test = SeedTest.of((a.mean - b.mean) * (1 if higher else -1), a, b)
    return test.outcome, f"{name_a} {a.fmt(scale, digits)} vs {name_b} {b.fmt(scale, digits)}, {test.fmt()}"


def against_reference(name: str, value: Optional[Stat], reference: str, accuracy: float) -> str:
    """A generated sentence placing a measured accuracy against a published one."""
    if value is None:
        return f"- {name}: {NOT_RUN}, nothing to compare with {reference} ({100 * accuracy:.1f} %) yet."
    side = "above" if value.mean > accuracy else "below"
    return (
        f"- {name} reaches {value.fmt()} %, {abs(100 * (value.mean - accuracy)):.1f} points {side} {reference} "
        f"({100 * accuracy:.1f} %)."
    )


# -- tables and figures ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A column: the key in a row's result dict, its header, and how it is printed."""

    key: str
    header: str
    scale: float = 100.0
    digits: int = 2


ACCURACY = Metric("test_acc", "test accuracy (%)")


@dataclass(frozen=True)
class TableRow:
    """What a table shows of one row: its display name, its results per seed and its command."""

    name: str
    results: Results
    command: str


def table(rows: Sequence[TableRow], metrics: Sequence[Metric] = (ACCURACY,)) -> list[str]:
    """Markdown table: one line per row with its metrics (mean ± std), finished seeds, parameters, wall time,
    command. A row without a finished seed says so in its first metric's cell."""
    headers = ["model", *(m.header for m in metrics), "seeds", "parameters", "wall time (s)", "command"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        values = [stat(row.results, m.key) for m in metrics]
        cells = [v.fmt(m.scale, m.digits) if v else "–" for v, m in zip(values, metrics)]
        if not row.results:
            cells[0] = NOT_RUN
        lines.append(
            f"| {row.name} | {' | '.join(cells)} | {len(row.results)} | {fmt_params(row.results)} | "
            f"{fmt_time(row.results)} | `{row.command}` |"
        )
    return lines


def bar_figure(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Optional[Stat]]]],
    path: Path,
    ylabel: str,
    scale: float = 100.0,
) -> None:
    """Mean +- std per row as bars, labelled with the rows' names; one bar per series and row, side by side.

    series: (legend label, one stat per row) each; with one series there is no legend. A missing stat draws no bar.
    """
    from matplotlib.figure import Figure

    legend = len(series) > 1
    per_row = 0.35 * len(series) + 0.5 if legend else 1.3
    fig = Figure(figsize=(per_row * len(labels) + (4.0 if legend else 2.0), 3.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(series)
    for index, (name, stats) in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * width
        ax.bar(
            [position + offset for position in range(len(labels))],
            [s.mean * scale if s else 0 for s in stats],
            width,
            yerr=[s.std * scale if s else 0 for s in stats],
            capsize=3,
            label=name,
        )
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.savefig(path, dpi=110)


def figure_line(name: str, caption: str) -> str:
    """The markdown image of ``figures/<name>`` (the page's figures folder)."""
    return f"![{caption}](figures/{name})"


# -- the page -------------------------------------------------------------------------------------
@dataclass
class Section:
    """A study's part of the page: title, markdown lines, raw numbers; ``skipped`` = the reason."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    raw: Any = None
    skipped: Optional[str] = None
    entries: list[dict[str, Any]] = field(default_factory=list)  # its rows in results.json (see :func:`entry`)


def entry(
    study: str,
    row: str,
    name: str,
    metric: str,
    results: Results,
    command: str,
    baseline: Optional[tuple[str, float]] = None,
) -> dict[str, Any]:
    """One row's metric for ``results.json``: ``{study, row, name, metric, mean, std, seeds, params, command}``
    (mean and std over the finished seeds, None without any), plus ``baseline`` ``{name, value}`` when the
    row's task has a published one."""
    value = stat(results, metric)
    item = {
        "study": study,
        "row": row,
        "name": name,
        "metric": metric,
        "mean": value.mean if value else None,
        "std": value.std if value else None,
        "seeds": len(results),
        "params": results[0].get("params") if results else None,
        "command": command,
    }
    if baseline is not None:
        item["baseline"] = {"name": baseline[0], "value": baseline[1]}
    return item


def merge_entries(entries: Sequence[dict[str, Any]], sections: Sequence[Section]) -> list[dict[str, Any]]:
    """``results.json``'s entries with those of the studies of ``sections`` replaced by theirs (as the page's
    sections are), in place, so that a partial rerun changes only its studies' lines; the other studies' entries
    stay, and studies new to the file go at the end."""
    fresh = {section.key: section.entries for section in sections}
    unplaced = set(fresh)
    merged: list[dict[str, Any]] = []
    for item in entries:
        study = item["study"]
        if study not in fresh:
            merged.append(item)
        elif study in unplaced:  # the study's first old entry: its new entries go here
            merged.extend(fresh[study])
            unplaced.discard(study)
    return [*merged, *(e for study in fresh if study in unplaced for e in fresh[study])]


def render(
    sections: Sequence[Section],
    *,
    invocation: str,
    fast: bool,
    seeds: Sequence[int],
    runs: Path,
    seconds: float,
    finished_only: bool = False,
) -> str:
    """The whole page: a header saying how it was made, then every section."""
    mode = (
        (
            "**Fast mode** (`--fast`): tiny subsets and one epoch, to check the pipeline. These numbers are noise, "
            "not results; run without `--fast` for the real page."
        )
        if fast
        else (
            "Full mode within a CPU budget: the overrides in the command above (e.g. fewer epochs than the presets) "
            "are part of each row's command."
        )
    )
    if finished_only:
        mode += (
            " `--finished-only`: this page tabulates the row/seeds that have finished so far (the `seeds` "
            "column); the same command without `--finished-only` trains the others, resuming interrupted runs."
        )
    lines = [
        "# Results",
        "",
        f"Generated by `{invocation or 'flexconv bench results'}` ({seconds / 60:.1f} min on {os.cpu_count()} CPU cores). "
        "Do not edit by hand.",
        "",
        mode,
        "",
        f"Seeds: {', '.join(map(str, seeds))}; tables show mean ± std over seeds (S in a command = the seed). "
        "Accuracies are test accuracies in %; wall time is per seed, on this machine's CPU unless the cell names a GPU. "
        f"Run folders: `{runs}/<study>/<row>/seed<S>`; every finished row/seed is also recorded in "
        "`records/<study>/<row>/seed<S>.json` beside this page (config and result), which later invocations reuse "
        f"on any machine. Every verdict sentence below is computed from the numbers in its table; verdicts on seeds: {TEST}.",
        "",
    ]
    for section in sections:
        lines += section_block(section)
    return "\n".join(lines)


def study_marker(key: str) -> str:
    """The invisible line under a section's heading naming its study, so that a later merge finds the section
    by its study even after the study's title changed."""
    return f"<!-- study: {key} -->"


def section_block(section: Section, note: str = "") -> list[str]:
    """A study's lines on the page: its heading, its study marker, an optional note, its lines (or why it was
    skipped)."""
    if section.skipped:
        return [f"## {section.title} — skipped", study_marker(section.key), "", f"Skipped: {section.skipped}", ""]
    return [f"## {section.title}", study_marker(section.key), "", *([note, ""] if note else []), *section.lines, ""]


def _blocks(page: str) -> list[list[str]]:
    """The page's lines cut before each ``## `` heading (the first block is the header), each block ending with
    a blank line."""
    blocks: list[list[str]] = [[]]
    for line in page.rstrip("\n").split("\n"):
        if line.startswith("## "):
            blocks.append([])
        blocks[-1].append(line)
    for block in blocks:
        if block and block[-1]:
            block.append("")  # a blank line before the next heading
    return blocks


def _join(blocks: Sequence[list[str]]) -> str:
    """The page of :func:`_blocks`' blocks, ending with one newline."""
    return "\n".join(line for block in blocks for line in block).rstrip("\n") + "\n"


CLAIMS_KEY = "claims"
CLAIM_LINE = re.compile(
    r"^- \*\*Claim:\*\* (?P<claim>.+?) \*\*Here:\*\* "
    r"(?P<outcome>holds|does not hold|inconclusive|not tested yet)\b"
)


def with_claims_at_a_glance(page: str) -> str:
    """The page with its first section, "Claims at a glance", (re)written from the verdict sentences of all its
    other sections: one table line per claim (study, claim, verdict and what weakens it: a gap within one standard
    deviation, or one seed), so that a reader sees which of the paper's claims hold here, and how firmly, before
    the tables that decide each. The evidence stays in the studies' sections."""
    blocks = [block for block in _blocks(page) if study_marker(CLAIMS_KEY) not in block[1:2]]
    lines = ["| study | claim | here |", "|---|---|---|"]
    for block in blocks[1:]:
        study = re.split(r":|, ", block[0].removeprefix("## "))[0]  # the heading up to its first colon or comma
        lines += [f"| {study} | {m['claim']} | **{m['outcome']}** |" for m in map(CLAIM_LINE.match, block) if m]
    glance = [
        "## Claims at a glance",
        study_marker(CLAIMS_KEY),
        "",
        f"Every verdict below is copied from its study's section, where the numbers and the p-value that decide "
        f"it are. Verdicts on seeds: {TEST}.",
        "",
        *lines,
        "",
    ]
    return _join([blocks[0], glance, *blocks[1:]])


def merge_into_page(
    page: str, sections: Sequence[Section], *, invocation: str, fast: bool, seeds: Sequence[int], seconds: float
) -> str:
    """An existing page with the studies of ``sections`` replaced or appended; the other studies' sections and
    the header stay as they were. A study's section is found by its marker (:func:`study_marker`), or, on a page
    written before markers, by its heading. Each new section names the command that made it."""
    note = (
        f"This section: `{invocation}` ({seconds / 60:.1f} min on {os.cpu_count()} CPU cores; seeds "
        f"{', '.join(map(str, seeds))}{'; fast mode, numbers are noise' if fast else ''})."
    )
    blocks = _blocks(page)
    for section in sections:
        new = section_block(section, note)
        titles = {f"## {section.title}", f"## {section.title} — skipped", f"## {section.key} — skipped"}
        where = [
            i
            for i, block in enumerate(blocks)
            if block and (block[0] in titles or study_marker(section.key) in block[1:2])
        ]
        if where:
            blocks[where[0]] = new
        else:
            blocks.append(new)
    return _join(blocks)
