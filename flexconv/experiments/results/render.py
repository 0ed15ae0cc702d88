"""Render: the tables and figures a study file names (``tables:``, ``figures:``; ``kind:`` where not the default),
the study sections, and the page and ``results.json``, each written once from the sections (nothing is merged into,
or read back from, an earlier page)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from omegaconf import OmegaConf

from flexconv.experiments.results.judge import ALPHA, NOT_RUN, Results, Verdict, stat
from flexconv.experiments.results.sweep import Row, Runs


@dataclass(frozen=True)
class Metric:
    """A column: a key of the rows' results, its header, shown times ``scale`` with ``digits`` decimals (or
    significant digits with ``notation: g``)."""

    key: str
    header: str
    scale: float = 100.0
    digits: int = 2
    notation: str = "f"


ACCURACY = Metric("test_acc", "test accuracy (%)")


def wall_time(results: Results) -> str:
    """Mean wall time per seed on each device (named unless the CPU), and how many seeds have no known time."""
    by_device: dict[str, list[float]] = {}
    for r in (r for r in results if r["wall_time_s"] is not None):
        by_device.setdefault(r["device"], []).append(r["wall_time_s"])
    means = {device: statistics.fmean(times) for device, times in by_device.items()}
    parts = [(f"{t:.0f}" if t >= 10 else f"{t:.2g}") + ("" if d == "cpu" else f" on {d}") for d, t in means.items()]
    unknown = sum(1 for r in results if r["wall_time_s"] is None)
    return "; ".join(parts + ([f"{unknown} unknown"] if unknown else [])) or "–"


@dataclass(frozen=True)
class Table:
    """Some rows (keys; empty: all of the study's) with each metric's mean ± std over the finished seeds, the seeds,
    parameters, wall time and command; also the rows' entries in ``results.json``."""

    rows: tuple[str, ...] = ()
    metrics: tuple[Metric, ...] = (ACCURACY,)

    def lines(self, rows: tuple[Row, ...], runs: Runs) -> list[str]:
        headers = ["model", *(m.header for m in self.metrics), "seeds", "parameters", "wall time (s)", "command"]
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for row, results in ((row, runs.results[row.key]) for row in rows):
            cells = [s.fmt(m.scale, m.digits, m.notation) if (s := stat(results, m.key)) else "–" for m in self.metrics]
            cells, params = [NOT_RUN, *cells[1:]] if not results else cells, _params(results)
            end = f"{f'{params:,}' if params else '–'} | {wall_time(results)} | `{runs.commands[row.key]}`"
            lines.append(f"| {row.name} | {' | '.join(cells)} | {len(results)} | {end} |")
        return lines

    def entries(self, study: str, rows: tuple[Row, ...], runs: Runs, baselines: dict[Any, Any]) -> list[dict[str, Any]]:
        """Each metric of each row, mean and std over the finished seeds, with its ``baselines`` (name, value)."""
        items = []
        for row in rows:
            results = runs.results[row.key]
            for metric in self.metrics:
                value, baseline = stat(results, metric.key), baselines.get((row.key, metric.key))
                item = dict(study=study, row=row.key, name=row.name, metric=metric.key, mean=value and value.mean)
                item |= dict(std=value and value.std, seeds=len(results), params=_params(results))
                item["command"] = runs.commands[row.key]
                items.append(item | ({"baseline": dict(zip(("name", "value"), baseline))} if baseline else {}))
        return items


def _params(results: Results) -> Optional[int]:
    return results[0].get("params") if results else None


@dataclass(frozen=True)
class KernelSizeTable:
    """The kernel sizes per layer of some rows' first seed (``kernel_sizes`` of its result): initial → learned."""

    rows: tuple[str, ...] = ()

    def lines(self, rows: tuple[Row, ...], runs: Runs) -> list[str]:
        lines = ["| model | kernel size per layer (taps, first seed; initial → learned) | grid |", "|---|---|---|"]
        for row in rows:
            if (results := runs.results[row.key]) and (sizes := results[0].get("kernel_sizes")):
                initial, learned = (", ".join("x".join(map(str, s)) for s in sizes[k]) for k in ("initial", "learned"))
                learned = f"{initial} → **{learned}**"
                lines.append(f"| {row.name} | {learned} | {'x'.join(map(str, sizes['grid']))} |")
        return lines


@dataclass(frozen=True)
class Bars:
    """Mean ± std per row as bars, one series per ``metrics`` entry (result key, legend label); or, with ``groups``
    (legend label, row keys), test accuracy with one series per group over the x ``labels``."""

    file: str
    caption: str
    ylabel: str
    metrics: tuple[tuple[str, str], ...] = (("test_acc", "test accuracy"),)
    labels: tuple[str, ...] = ()
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        from matplotlib.figure import Figure

        labels = self.labels or tuple(row.name for row in rows)
        series = [(name, [stat(runs.results[key], "test_acc") for key in keys]) for name, keys in self.groups] or [
            (label, [stat(runs.results[row.key], metric) for row in rows]) for metric, label in self.metrics
        ]
        legend = len(series) > 1
        per_label = 0.35 * len(series) + 0.5 if legend else 1.3
        ax = (fig := Figure(figsize=(per_label * len(labels) + 2 + 2 * legend, 3.2), layout="constrained")).subplots()
        width = 0.8 / len(series)
        for index, (name, stats) in enumerate(series):
            offset = (index - (len(series) - 1) / 2) * width
            means, stds = [s.mean * 100 if s else 0 for s in stats], [s.std * 100 if s else 0 for s in stats]
            ax.bar([x + offset for x in range(len(labels))], means, width, yerr=stds, capsize=3, label=name)
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(self.ylabel)
        if legend:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.savefig(path, dpi=110)


@dataclass(frozen=True)
class Plot:
    """A figure drawn by ``plot`` ("module:function", called as ``function(results, path)``) from the first seed's
    result of each measured row, in the study's order."""

    file: str
    caption: str
    plot: str

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        from flexconv.data.records import resolve

        resolve(self.plot)([runs.results[row.key][0] for row in rows], path)


Line = Union[str, Verdict]  # a section's line: markdown, or a verdict that the page states as a sentence


@dataclass
class Section:
    """A study's part of the page: title, lines, its ``results.json`` entries; ``skipped`` = the reason."""

    key: str
    title: str
    lines: list[Line] = field(default_factory=list)
    skipped: Optional[str] = None
    entries: list[dict[str, Any]] = field(default_factory=list)  # its rows' metrics in results.json

    @property
    def verdicts(self) -> list[Verdict]:
        return [line for line in self.lines if isinstance(line, Verdict)]

    def markdown(self) -> list[str]:
        """Its heading, its lines (verdicts as sentences) or why it was skipped, and a blank line."""
        if self.skipped:
            return [f"## {self.title} — skipped", "", f"Skipped: {self.skipped}", ""]
        body = [line.sentence() if isinstance(line, Verdict) else line for line in self.lines]
        return [f"## {self.title}", "", *body, ""]


def page(
    sections: Sequence[Section], *, invocation: str, fast: bool, seeds: Sequence[int], runs: Path, finished_only: bool
) -> str:
    """The whole page: the header of ``page.yaml`` (the page's prose), the claims at a glance, then every section."""
    prose: Any = OmegaConf.to_container(OmegaConf.load(Path(__file__).with_name("page.yaml")))
    mode = prose["modes"]["fast" if fast else "full"] + (" " + prose["modes"]["finished_only"] if finished_only else "")
    verdicts = prose["verdicts"].format(alpha=ALPHA)
    seeds_text = ", ".join(map(str, seeds))
    header = prose["header"].format(invocation=invocation, mode=mode, seeds=seeds_text, runs=runs, description=verdicts)
    short = {s.key: s.title.split(":")[0].split(", ")[0] for s in sections}  # up to the first colon or comma
    glance = [f"| {short[s.key]} | {v.claim} | **{v.verdict}** |" for s in sections for v in s.verdicts]
    lines = [header.rstrip("\n"), *glance, "", *(line for section in sections for line in section.markdown())]
    return "\n".join(lines).rstrip("\n") + "\n"


def results_json(sections: Sequence[Section]) -> str:
    """``results.json``: every table row's metrics and every claim's verdict with its test."""
    entries = [item for section in sections for item in section.entries]
    claims = [{"study": section.key, **asdict(verdict)} for section in sections for verdict in section.verdicts]
    return json.dumps({"schema_version": 1, "entries": entries, "claims": claims}, indent=1) + "\n"
