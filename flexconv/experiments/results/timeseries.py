"""The time-series study: experiment=timeseries (FlexTCN) vs timeseries_conv3 (k=3) vs the published
ResNet on five aeon-bundled sets, and the kernel sizes the FlexTCN learns on each."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Optional, Sequence

from flexconv.experiments.results.report import Stat, figure_line, fmt_params, stat, verdict
from flexconv.experiments.results.runner import Context, Row, Runs, kernel_sizes_of_run
from flexconv.experiments.results.study import Reference, Study


@dataclass(frozen=True)
class SeriesSet:
    """A data set of the study: its name on the page, its ``data=`` override and the published ResNet's accuracy."""

    name: str
    data: str
    resnet: float


# The sets the time-series preset was developed on, with the published ResNet's accuracy (Fawaz et al. 2019,
# "Deep learning for time series classification: a review", dl-4-tsc results; ACSF1: 92-93 % over its runs,
# quoted as 92.5). Every set at the preset's own budget (ACSF1's 100 epochs of 1,460 steps: about 2 minutes).
TIMESERIES_SETS = (
    SeriesSet("ACSF1", "data=uea_acsf1", 0.925),
    SeriesSet("GunPoint", "data=uea_gunpoint", 0.993),
    SeriesSet("ItalyPowerDemand", "data=uea_italypowerdemand", 0.966),
    SeriesSet("PickupGestureWiimoteZ", "data=uea_pickupgesturewiimotez", 0.72),
    SeriesSet("JapaneseVowels", "data=uea_japanesevowels", 0.99),
)
FAST = ("data.limit_test=64",)


def rows_of(series: SeriesSet) -> tuple[Row, Row]:
    """(FlexTCN row, k=3 row) of a set; keys ``<name>/flextcn`` and ``<name>/conv3``."""
    overrides = (series.data,)
    return (Row(f"{series.name}/flextcn", f"{series.name} FlexTCN", "timeseries", overrides, FAST),
            Row(f"{series.name}/conv3", f"{series.name} TCN k=3", "timeseries_conv3", overrides, FAST))


def learned_kernel_sizes(result: dict[str, Any], run_dir: Path) -> tuple[list[int], list[int], int]:
    """(taps per layer after training, taps per layer at initialisation, grid size) of a 1D run: from its
    recorded result, or from its run folder's last checkpoint for a result recorded without them."""
    sizes = result.get("kernel_sizes") or kernel_sizes_of_run(run_dir)
    return [taps[0] for taps in sizes["learned"]], [taps[0] for taps in sizes["initial"]], sizes["grid"][0]


def _figure(accs: dict[str, tuple], sizes: dict[str, list[int]], path: Path) -> None:
    """Accuracy per set (FlexTCN, k=3, published ResNet) and learned kernel size per layer per set."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    names = list(accs)
    for i, (label, pick) in enumerate((("FlexTCN", 0), ("TCN k=3", 1), ("ResNet (published)", 2))):
        values = [accs[n][pick] for n in names]
        left.bar([j + 0.27 * (i - 1) for j in range(len(names))], [100 * (v.mean if isinstance(v, Stat) else v or 0) for v in values],
                 width=0.27, yerr=[100 * v.std if isinstance(v, Stat) else 0 for v in values], capsize=2, label=label)
    left.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    left.set(ylabel="test accuracy (%)", ylim=(0, 100))
    left.legend(fontsize=7, loc="lower left")
    for name, taps in sizes.items():
        right.plot(range(1, len(taps) + 1), taps, marker="o", label=name)
    right.set(xlabel="FlexConv layer", ylabel="learned kernel size (taps)", yscale="log")
    right.legend(fontsize=7)
    fig.savefig(path, dpi=110)


def _average(stats: Sequence[Optional[Stat]]) -> Optional[Stat]:
    """The mean of the sets' means (None unless every set has a number)."""
    return Stat.of([statistics.fmean(s.mean for s in stats)]) if all(stats) else None


def timeseries_body(sets: Sequence[SeriesSet], study: Study, runs: Runs, ctx: Context) -> tuple[list[str], Any]:
    """One table line per set (accuracies, seeds, initial -> learned kernel sizes), the figure, the claims."""
    lines = ["| dataset | FlexTCN (%) | TCN k=3 (%) | ResNet, published (%) | seeds (FlexTCN / k=3) | FlexTCN kernel sizes "
             "per layer (taps, first seed; initial → learned) | grid |", "|---|---|---|---|---|---|---|"]
    accs: dict[str, tuple[Optional[Stat], Optional[Stat], float]] = {}
    sizes: dict[str, list[int]] = {}
    for series in sets:
        flex_row, conv_row = rows_of(series)
        flex_results, conv_results = runs.results[flex_row.key], runs.results[conv_row.key]
        flex, conv3 = stat(flex_results, "test_acc"), stat(conv_results, "test_acc")
        accs[series.name] = (flex, conv3, series.resnet)
        kernels, grid = "–", "–"
        if flex_results:
            learned, initial, grid = learned_kernel_sizes(flex_results[0], runs.run_dirs[flex_row.key][0])
            sizes[series.name] = learned
            kernels = f"{', '.join(map(str, initial))} → **{', '.join(map(str, learned))}**"
        lines.append(f"| {series.name} | {flex.fmt() if flex else '–'} | {conv3.fmt() if conv3 else '–'} | "
                     f"{100 * series.resnet:.1f} | {len(flex_results)} / {len(conv_results)} | {kernels} | {grid} |")
    flex_avg, conv_avg = _average([a[0] for a in accs.values()]), _average([a[1] for a in accs.values()])
    ref_avg = Stat.of([statistics.fmean(series.resnet for series in sets)])
    lines.append(f"| **average** | {flex_avg.fmt() if flex_avg else '–'} | {conv_avg.fmt() if conv_avg else '–'} | "
                 f"{ref_avg.fmt(digits=1)} | | | |")
    wins = [n for n, (f, c, _) in accs.items() if f and c and f.mean > c.mean]
    distinct = {tuple(v) for v in sizes.values()}
    _figure(accs, sizes, ctx.figures / "timeseries.png")
    first_flex, first_conv = rows_of(sets[0])
    commands = [f"- {row.name}: `{runs.commands[row.key]}`" for series in sets for row in rows_of(series)]
    lines += [
        "",
        f"Parameters on {sets[0].name}: FlexTCN {fmt_params(runs.results[first_flex.key])}, TCN k=3 "
        f"{fmt_params(runs.results[first_conv.key])}. ResNet: Fawaz et al. 2019, results of the "
        "dl-4-tsc repository (ACSF1: 92-93 % over its runs, quoted as 92.5). The preset's choices and the "
        "experiments behind them: docs/timeseries.md.", "",
        figure_line("timeseries.png", "accuracy per set and learned kernel sizes"), "",
        verdict("the FlexTCN preset matches or beats the published ResNet on average over the five sets.",
                flex_avg is not None and flex_avg.mean >= ref_avg.mean,
                f"averages: FlexTCN {flex_avg.fmt() if flex_avg else '–'}, ResNet {ref_avg.fmt(digits=1)}"),
        verdict("the FlexTCN preset beats the matched k=3 baseline on most sets.", len(wins) > len(sets) / 2,
                f"higher mean accuracy on {len(wins)} of {len(sets)} sets: {', '.join(wins) or 'none'}"),
        verdict("the learned kernel sizes differ between sets.", len(sizes) > 1 and len(distinct) == len(sizes),
                f"{len(distinct)} distinct per-layer size lists over {len(sizes)} sets"),
        *(line for claim in study.claims for line in claim.lines(runs)),
        "", "Commands:", *commands,
    ]
    return lines, {"results": runs.results, "kernel_sizes": sizes}


def timeseries_study(sets: Sequence[SeriesSet] = TIMESERIES_SETS) -> Study:
    """The study over ``sets``. Its claims are the references to the published ResNet (the verdicts over
    all sets are made in :func:`timeseries_body`)."""
    rows = tuple(row for series in sets for row in rows_of(series))
    references = tuple(Reference(rows_of(s)[0].key, f"FlexTCN on {s.name}", "the published ResNet", s.resnet) for s in sets)
    return Study("timeseries", "Time series: experiment=timeseries (FlexTCN) vs the k=3 baseline vs the published ResNet",
                 rows=rows, claims=references, body=partial(timeseries_body, tuple(sets)))


TIMESERIES = timeseries_study()
