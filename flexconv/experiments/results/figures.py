"""The figures a study file names (``figure: {kind: ...}``), drawn from the measured rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flexconv.experiments.results.judge import stat
from flexconv.experiments.results.sweep import Row, Runs


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
