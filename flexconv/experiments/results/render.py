"""Render: markdown tables of measured rows, the study sections, and the page and ``results.json``, each written
once from the sections (nothing is merged into, or read back from, an earlier page)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from flexconv.experiments.results.judge import DESCRIPTION, NOT_RUN, Stat, Verdict, stat

Results = list[dict[str, Any]]  # one result dict per finished seed of a row


def fmt_params(results: Results) -> str:
    params = results[0].get("params") if results else None
    return f"{params:,}" if params else "–"


def _seconds(seconds: float) -> str:
    """Whole seconds, or two significant digits under 10 s."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


def fmt_time(results: Results) -> str:
    """Mean wall time per seed, per device that trained the seeds: plain for the CPU ("1234"), named for a GPU
    ("250 on NVIDIA H200"), and how many seeds have no known time ("2 unknown")."""
    by_device: dict[str, list[float]] = {}
    for r in results:
        if r["wall_time_s"] is not None:
            by_device.setdefault(r["device"], []).append(r["wall_time_s"])
    parts = [_seconds(statistics.fmean(t)) + ("" if d == "cpu" else f" on {d}") for d, t in by_device.items()]
    unknown = sum(1 for r in results if r["wall_time_s"] is None)
    return "; ".join(parts + ([f"{unknown} unknown"] if unknown else [])) or "–"


@dataclass(frozen=True)
class Metric:
    """A column: the key in a row's result dict, its header, and how it is printed (times ``scale``, with
    ``digits`` decimals, or ``digits`` significant digits with ``notation`` "g")."""

    key: str
    header: str
    scale: float = 100.0
    digits: int = 2
    notation: str = "f"

    def fmt(self, value: Stat) -> str:
        """``mean ± std`` (``mean`` alone for one seed)."""
        numbers = (value.mean,) if value.n == 1 else (value.mean, value.std)
        return " ± ".join(f"{number * self.scale:.{self.digits}{self.notation}}" for number in numbers)


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
        cells = [m.fmt(v) if v else "–" for v, m in zip(values, metrics)]
        if not row.results:
            cells[0] = NOT_RUN
        lines.append(
            f"| {row.name} | {' | '.join(cells)} | {len(row.results)} | {fmt_params(row.results)} | "
            f"{fmt_time(row.results)} | `{row.command}` |"
        )
    return lines


def figure_line(name: str, caption: str) -> str:
    """The markdown image of ``figures/<name>`` (the page's figures folder)."""
    return f"![{caption}](figures/{name})"


# -- the page -------------------------------------------------------------------------------------
Line = Union[str, Verdict]  # a section's line: markdown, or a verdict that the page states as a sentence


@dataclass
class Section:
    """A study's part of the page: title, lines, its ``results.json`` entries; ``skipped`` = the reason."""

    key: str
    title: str
    lines: list[Line] = field(default_factory=list)
    skipped: Optional[str] = None
    entries: list[dict[str, Any]] = field(default_factory=list)  # its rows in results.json (see :func:`entry`)

    @property
    def verdicts(self) -> list[Verdict]:
        return [line for line in self.lines if isinstance(line, Verdict)]

    @property
    def short_title(self) -> str:
        """The title up to its first colon or comma (the claims table's study column)."""
        return self.title.split(":")[0].split(", ")[0]

    def markdown(self) -> list[str]:
        """Its heading, its lines (verdicts as sentences) or why it was skipped, and a blank line."""
        if self.skipped:
            return [f"## {self.title} — skipped", "", f"Skipped: {self.skipped}", ""]
        body = [line.sentence() if isinstance(line, Verdict) else line for line in self.lines]
        return [f"## {self.title}", "", *body, ""]


PAGE = Path(__file__).with_name("page.md")  # the page's header, formatted with how it was made
MODES = {
    "fast": "**Fast mode** (`--fast`): tiny subsets and one epoch, to check the pipeline. These numbers are noise, not "
    "results; run without `--fast` for the real page.",
    "full": "Full mode within a CPU budget: the overrides in the command above (e.g. fewer epochs than the presets) "
    "are part of each row's command.",
    "finished_only": " `--finished-only`: this page tabulates the row/seeds that have finished so far (the `seeds` "
    "column); the same command without `--finished-only` trains the others, resuming interrupted runs.",
}


def page(
    sections: Sequence[Section], *, invocation: str, fast: bool, seeds: Sequence[int], runs: Path, finished_only: bool
) -> str:
    """The whole page: the header of :data:`PAGE`, the claims at a glance, then every section."""
    mode = MODES["fast" if fast else "full"] + (MODES["finished_only"] if finished_only else "")
    header = PAGE.read_text().format(
        invocation=invocation, mode=mode, seeds=", ".join(map(str, seeds)), runs=runs, description=DESCRIPTION
    )
    glance = [f"| {s.short_title} | {v.claim} | **{v.verdict}** |" for s in sections for v in s.verdicts]
    lines = [header.rstrip("\n"), *glance, "", *(line for section in sections for line in section.markdown())]
    return "\n".join(lines).rstrip("\n") + "\n"


def results_json(sections: Sequence[Section]) -> str:
    """``results.json``: every table row's metric (:func:`entry`) and every claim's verdict with its test."""
    table = {
        "schema_version": 1,
        "entries": [item for section in sections for item in section.entries],
        "claims": [verdict.entry(section.key) for section in sections for verdict in section.verdicts],
    }
    return json.dumps(table, indent=1) + "\n"
