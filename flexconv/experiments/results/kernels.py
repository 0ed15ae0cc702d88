"""Kernel studies: kernel fitting (the paper's Fig. 3, rows of :func:`flexconv.experiments.fit_kernel.fit_one`) and
the learned kernel sizes of the Fashion-MNIST FlexNet (a page part of its own)."""

from __future__ import annotations

from flexconv.experiments import fit_kernel as fk
from flexconv.experiments.results.judge import decided
from flexconv.experiments.results.render import Line, Metric, figure_line
from flexconv.experiments.results.study import Best, Plot, Study, Table
from flexconv.experiments.results.sweep import Context, DataUnavailable, Row, Runs
from flexconv.models.pretrained import RELEASES, Release
from flexconv.models.registry import get_model


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
    "fit_kernel",
    "Kernel fitting: MAGNet vs GaborNet vs FourierNet vs SIREN (33x33 targets)",
    rows=tuple(Row(f"{t}/{n}", f"{t} {n}", n, (f"target={t}",)) for t in fk.TARGETS for n in fk.DEFAULT_NETS),
    claims=tuple(
        Best(
            f"MAGNet fits the `{t}` target best.",
            f"{t}/MAGNet",
            tuple((f"{t}/{n}", n) for n in fk.DEFAULT_NETS),
            "psnr",
            unit=" dB",
        )
        for t in fk.TARGETS
    ),
    tables=(
        Table(
            metrics=(
                Metric("lr", "best lr", 1, 3, "g"),
                Metric("mse", "MSE", 1, 3, "g"),
                Metric("psnr", "PSNR (dB)", 1),
            )
        ),
    ),
    notes=(
        f"Full mode: `flexconv fit-kernel --iterations {fk.ORIGINAL_ITERATIONS} --lr {fk.ORIGINAL_LR} --seed 0` "
        "fits all rows at once (the original fitting protocol: Adam at this learning rate, input scale 256, the fit "
        "at its lowest loss); each row's command fits its pair alone, at its best learning rate where several are "
        "tried.",
    ),
    figure=Plot("fit_kernel.png", "MSE vs iteration", fk.plot_curves),
    figures=(Plot("fit_kernel_kernels.png", "targets and fitted kernels", fk.plot_kernels),),
    program="fit_kernel",
    max_seeds=1,
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
