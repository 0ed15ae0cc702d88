"""The tables a study file names (``tables: [...]``; ``kind: kernel_size_table``, else a metric table)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Optional

from flexconv.experiments.results.judge import NOT_RUN, Results, stat
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
    """Mean wall time per seed for each device that ran them (named unless the CPU), whole seconds or two
    significant digits under 10 s, and how many seeds have no known time."""
    by_device: dict[str, list[float]] = {}
    for r in (r for r in results if r["wall_time_s"] is not None):
        by_device.setdefault(r["device"], []).append(r["wall_time_s"])
    means = {device: statistics.fmean(times) for device, times in by_device.items()}
    parts = [f"{t:.0f}" if t >= 10 else f"{t:.2g}" for t in means.values()]
    parts = [part + ("" if device == "cpu" else f" on {device}") for part, device in zip(parts, means)]
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
        """Each metric of each row: mean and std over the finished seeds (None without any), with the
        ``baseline`` (name, value) of its (row key, metric key) in ``baselines``."""
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
        def taps(sizes: list[list[int]]) -> str:
            return ", ".join("x".join(map(str, size)) for size in sizes)

        lines = ["| model | kernel size per layer (taps, first seed; initial → learned) | grid |", "|---|---|---|"]
        for row in rows:
            if (results := runs.results[row.key]) and (sizes := results[0].get("kernel_sizes")):
                learned = f"{taps(sizes['initial'])} → **{taps(sizes['learned'])}**"
                lines.append(f"| {row.name} | {learned} | {'x'.join(map(str, sizes['grid']))} |")
        return lines
