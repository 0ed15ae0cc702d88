"""The figures a study file can name (``figure: {kind: ...}``), drawn from the measured rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

from flexconv.experiments.results.judge import Stat, stat
from flexconv.experiments.results.sweep import Row, Runs


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


def bar_figure(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[Optional[Stat]]]], path: Path, ylabel: str
) -> None:
    """Mean ± std (in %) per label as bars, one bar per series side by side; one series has no legend, a missing
    stat no bar."""
    from matplotlib.figure import Figure

    legend = len(series) > 1
    per_label = 0.35 * len(series) + 0.5 if legend else 1.3
    fig = Figure(figsize=(per_label * len(labels) + (4.0 if legend else 2.0), 3.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(series)
    for index, (name, stats) in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * width
        ax.bar(
            [position + offset for position in range(len(labels))],
            [s.mean * 100 if s else 0 for s in stats],
            width,
            yerr=[s.std * 100 if s else 0 for s in stats],
            capsize=3,
            label=name,
        )
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.savefig(path, dpi=110)


@dataclass(frozen=True)
class Bars:
    """Mean ± std per row as bars: one series per ``metrics`` entry (result key, legend label); or, with
    ``groups`` (legend label, row keys), test accuracy with one series per group over the x ``labels``."""

    file: str
    caption: str
    ylabel: str
    metrics: tuple[tuple[str, str], ...] = (("test_acc", "test accuracy"),)
    labels: tuple[str, ...] = ()
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        if self.groups:
            grouped = [(name, [stat(runs.results[key], "test_acc") for key in keys]) for name, keys in self.groups]
            bar_figure(self.labels, grouped, path, self.ylabel)
            return
        series = [(label, [stat(runs.results[row.key], metric) for row in rows]) for metric, label in self.metrics]
        bar_figure([row.name for row in rows], series, path, self.ylabel)


@dataclass(frozen=True)
class Curves:
    """Mean ± std test accuracy against ``x``, one line per label over its rows (keys, in ``x`` order)."""

    file: str
    caption: str
    x: tuple[float, ...]
    xlabel: str
    lines: tuple[tuple[str, tuple[str, ...]], ...]

    def draw(self, rows: Sequence[Row], runs: Runs, path: Path) -> None:
        from matplotlib.figure import Figure

        ax = (fig := Figure(figsize=(4.5, 3.2), layout="constrained")).subplots()
        for label, keys in self.lines:
            measured = [(x, stat(runs.results[key], "test_acc")) for x, key in zip(self.x, keys)]
            points = [(x, s) for x, s in measured if s is not None]  # rows without a finished seed are left out
            ax.errorbar(
                [x for x, _ in points],
                [100 * s.mean for _, s in points],
                yerr=[100 * s.std for _, s in points],
                marker="o",
                capsize=3,
                label=label,
            )
        ax.set(xlabel=self.xlabel, ylabel="test accuracy (%)")
        ax.legend()
        fig.savefig(path, dpi=110)
