"""The studies of the results page whose part of the page is not tables of rows: kernel fitting (the paper's
Fig. 3, from :mod:`flexconv.experiments.fit_kernel`) and the learned kernel sizes of the Fashion-MNIST FlexNet."""

from __future__ import annotations

import inspect
import logging
import math
from typing import Any

from flexconv.experiments.results.judge import decided
from flexconv.experiments.results.render import Line, figure_line
from flexconv.experiments.results.study import Study
from flexconv.experiments.results.sweep import Context, DataUnavailable, Row, Runs
from flexconv.experiments.results.table import RECORDS
from flexconv.models.pretrained import RELEASES, Release
from flexconv.models.registry import get_model

log = logging.getLogger(__name__)


def fitted_report(ctx: Context, **settings: Any) -> dict:
    """:func:`flexconv.experiments.fit_kernel.run` of every target and network with these settings, saved in
    ``<runs>/fit_kernel/`` and reused by a later invocation with the same settings (as finished rows are).

    A full (not ``--fast``) report is also recorded under ``<out>/records/fit_kernel/`` (the report itself,
    with its curves and kernels for the figures; a few hundred KB), so that any machine redraws the section
    from it, as row records let it redraw a table.
    """
    import torch

    from flexconv.experiments import fit_kernel as fk

    name = "_".join(f"{key}{value}" for key, value in sorted(settings.items())).replace(" ", "").replace(",", "-")
    file_name = f"report_{'fast_' if ctx.fast else ''}{name}.pt"
    path = ctx.runs / "fit_kernel" / file_name
    record = ctx.out / RECORDS / "fit_kernel" / file_name
    keywords = inspect.signature(fk.run).parameters.values()
    wanted = {p.name: p.default for p in keywords if p.kind is p.KEYWORD_ONLY} | settings
    for saved in (path, record):
        report = torch.load(saved, weights_only=True) if saved.is_file() else None
        if report is not None and report["settings"] == wanted:  # not one fitted with other defaults
            log.info("fit_kernel: reusing %s", saved)
            return report
    if ctx.finished_only:
        raise DataUnavailable(f"kernel fitting has not run with these settings ({path} is missing; --finished-only)")
    report = fk.run(list(fk.TARGETS), list(fk.DEFAULT_NETS), **settings)
    for saved in (path,) if ctx.fast else (path, record):  # --fast numbers are noise: never recorded
        saved.parent.mkdir(parents=True, exist_ok=True)
        torch.save(report, saved)
    return report


def fit_kernel_body(study: Study, runs: Runs, ctx: Context) -> list[Line]:
    """Kernel fitting (paper Fig. 3): every kernel network on every target (at its best learning rate when several
    are tried)."""
    from flexconv.experiments import fit_kernel as fk

    # Full mode: the original fitting protocol (fit_kernel's defaults: 3,000 Adam steps at lr 0.01, input scale 256)
    settings: dict[str, Any] = (
        {"iterations": 60, "lrs": [0.01, 0.001]}
        if ctx.fast
        else {"iterations": fk.ORIGINAL_ITERATIONS, "lrs": [fk.ORIGINAL_LR]}
    )
    report = fitted_report(ctx, seed=ctx.seeds[0], **settings)
    fk.plot_curves(report, ctx.figures / "fit_kernel.png")
    fk.plot_kernels(report, ctx.figures / "fit_kernel_kernels.png")
    lrs = ",".join(f"{lr:g}" for lr in settings["lrs"])
    cmd = f"`flexconv fit-kernel --iterations {settings['iterations']} --lr {lrs} --seed {ctx.seeds[0]}`"
    protocol = (
        f"each pair at its best learning rate of {lrs.replace(',', ', ')}"
        if len(settings["lrs"]) > 1
        else "the original fitting protocol: Adam at this learning rate, input scale 256, the fit at its lowest loss"
    )
    lines: list[Line] = [
        f"Command: {cmd} ({protocol}).",
        "",
        "| target | network | parameters | best lr | MSE | PSNR (dB) |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['target']} | {r['net']} | {r['params']:,} | {r['lr']:g} | {r['mse']:.3g} | {r['psnr']:.2f} |"
        )
    lines += [
        "",
        figure_line("fit_kernel.png", "MSE vs iteration"),
        "",
        figure_line("fit_kernel_kernels.png", "targets and fitted kernels"),
        "",
    ]
    for target in report["targets"]:
        fits = [r for r in report["results"] if r["target"] == target]
        best = min(fits, key=lambda r: r["mse"] if math.isfinite(r["mse"]) else math.inf)
        magnet = next((r for r in fits if r["net"] == "MAGNet"), None)
        if magnet is None:
            continue
        evidence = f"best {best['net']} {best['psnr']:.1f} dB, MAGNet {magnet['psnr']:.1f} dB"
        lines.append(decided(f"MAGNet fits the `{target}` target best.", best["net"] == "MAGNet", evidence))
    return lines


def kernel_sizes_body(study: Study, runs: Runs, ctx: Context) -> list[Line]:
    """The learned kernel size, grid and mask width of every layer of the first seed's FlexNet.

    Its weights come from the run folder's best checkpoint, or, where the result was reused from a committed
    record (the run folder stays on the machine that trained it), from the released checkpoint that this very
    run became (:data:`flexconv.models.pretrained.RELEASES`, matched by its command): a fresh clone
    regenerates the section.
    """
    import torch

    from flexconv.train.callbacks import continuous_layers, plot_kernel_sizes, plot_kernels
    from flexconv.train.module import TaskModule

    if not runs.run_dirs["flexnet"]:
        raise DataUnavailable("no finished run of the Fashion-MNIST FlexNet (--finished-only)")
    command = runs.commands["flexnet"]
    seed_command = command.replace("seed=S", f"seed={ctx.seeds[0]}")
    checkpoints = [runs.run_dirs["flexnet"][0] / "checkpoints" / name for name in ("best.ckpt", "last.ckpt")]
    checkpoint = next((path for path in checkpoints if path.is_file()), None)
    release = _release_of(seed_command)
    if checkpoint is not None:
        model = TaskModule.load_from_checkpoint(checkpoint, map_location="cpu").model
        source = f"From `{checkpoint}` (`{command}` with S = {ctx.seeds[0]})."
    elif release is not None:
        model = get_model(release.name, pretrained=True)
        source = f"From the released checkpoint `{release.name}`, the best checkpoint of `{seed_command}`."
    else:
        raise DataUnavailable(
            f"the FlexNet's result was reused from its record, its checkpoint is on the machine "
            f"that trained it, not here ({checkpoints[0]}), and no released checkpoint was "
            f"trained by `{seed_command}`"
        )
    with torch.no_grad():
        plot_kernel_sizes(model, ctx.figures / "kernel_sizes.png")
        plot_kernels(model, ctx.figures / "kernels_fashion_mnist.png")
    lines: list[Line] = [
        source,
        "",
        "| layer | kernel size (taps) | grid | mask width σ per axis |",
        "|---|---|---|---|",
    ]
    sizes = []
    for name, layer in continuous_layers(model):
        size = layer.effective_kernel_size()
        sizes.append(size)
        widths = (
            ", ".join(f"{w:.3f}" for w in layer.mask.width.detach().abs().tolist()) if layer.mask is not None else "–"
        )
        lines.append(
            f"| {name} | {' x '.join(map(str, size))} | {' x '.join(map(str, layer.grid_sizes()))} | {widths} |"
        )
    figures = [
        figure_line("kernel_sizes.png", "learned kernel extent per layer"),
        figure_line("kernels_fashion_mnist.png", "learned kernels, first and last layer"),
    ]
    distinct = sorted(set(sizes))
    evidence = (
        f"{len(distinct)} distinct sizes over {len(sizes)} layers, from {distinct[0]} to {distinct[-1]}"
        if sizes
        else "no layers"
    )
    lines += [
        "",
        *figures,
        "",
        decided("FlexConv learns a different kernel size per layer.", len(distinct) > 1, evidence),
    ]
    return lines


def _release_of(command: str) -> Release | None:
    """The released checkpoint trained by exactly ``command`` (seed included), if any."""
    return next((release for release in RELEASES.values() if release.command == command), None)


FIT_KERNEL = Study(
    "fit_kernel", "Kernel fitting: MAGNet vs GaborNet vs FourierNet vs SIREN (33x33 targets)", body=fit_kernel_body
)


def kernel_sizes_study(flexnet: Row) -> Study:
    """The learned kernel sizes of the Fashion-MNIST study's ``flexnet`` row: its first seed's run itself (its
    folder and overrides), reused when that study ran."""
    return Study(
        "kernel_sizes",
        "Learned kernel sizes of the Fashion-MNIST FlexNet",
        rows=(flexnet,),
        tables=(),
        runs_in="fashion_mnist",
        max_seeds=1,
        body=kernel_sizes_body,
    )
