"""Kernel fitting: how well and how fast each kernel network represents a given 2D kernel.

The FlexConv paper (Romero, Bruintjes et al. 2022, arXiv 2110.08059, Sec. 5.1 and appendix)
fits kernel networks directly to target kernels on a 33x33 grid (MSE loss, Adam) to show that
MAGNet fits Gabor-like and natural-image kernels better and faster than SIREN and other
multiplicative filter networks. Targets here:

* ``gabor``:  Gabor functions of two frequencies x two orientations (4 output channels);
* ``random``: seeded uniform noise in [-1, 1] (1 channel), the hardest case for any smooth net;
* ``image``:  a grey patch of scikit-learn's bundled ``china.jpg``, resized (1 channel).

The defaults are the original fitting code's protocol (``ckernel_fitting/fit_function.py`` of the
authors' repository): multiplicative filter networks with ``input_scale`` 256 (not the 25.6 of the
classification runs), Adam at lr 0.01 for thousands of iterations (its runs: 3,000 and 5,000), the
fit reported at its lowest training loss (the original reloads those weights), and its PSNR:
``-10 log10(MSE)`` between the target and the fit clipped to [0, 1] (peak 1). Our targets lie in
[-1, 1], so both are mapped to [0, 1] by ``(x + 1) / 2`` first. ``--input-scale``, ``--iterations``,
``--lr`` (several rates: each pair keeps its best) and the others change the protocol.

Networks are looked up in the one table of kernel networks (flexconv.nn.KERNEL_NETS: a
registered network can be fitted by name) and share width ``hidden`` and ``layers`` hidden (H x H)
maps each: the multiplicative filter networks get ``num_layers=layers``; SIREN and MLP, whose
``num_layers`` counts every linear map, get ``layers + 2`` (input layer, ``layers`` hidden ones, output).

    flexconv fit-kernel --targets gabor,image --nets MAGNet,SIREN --iterations 3000 --out outputs/fit
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F

from flexconv.nn.grid import relative_positions
from flexconv.nn.kernels import KernelNet, MultiplicativeFilterNet, kernel_net_class

log = logging.getLogger(__name__)

DEFAULT_NETS = ("MAGNet", "GaborNet", "FourierNet", "SIREN")  # the paper's comparison
ORIGINAL_INPUT_SCALE = 256.0  # the original kernel-fitting code's MFN input scale
ORIGINAL_ITERATIONS = 3000
ORIGINAL_LR = 0.01
HIDDEN, LAYERS, SIZE = 32, 3, 33  # every network's width and hidden maps; the grid's side (the paper: 33)
CURVE_POINTS = 300  # a result's loss curve keeps about this many points

# Gabor targets: frequencies in cycles per unit length (Nyquist of 33 taps over [-1, 1] is 8)
# and orientations in radians; the Gaussian envelope has this standard deviation.
GABOR_FREQUENCIES = (1.5, 4.0)
GABOR_ORIENTATIONS = (0.0, math.pi / 4)
GABOR_SIGMA = 0.4


def gabor_target(size: int, seed: int = 0) -> torch.Tensor:
    """Gabor functions ``exp(-r^2 / 2 sigma^2) cos(2 pi f x')`` on a size x size grid: (4, size, size)."""
    y, x = relative_positions((size, size))  # (size, size) each
    envelope = torch.exp(-(x.square() + y.square()) / (2 * GABOR_SIGMA**2))
    kernels = [
        envelope * torch.cos(2 * math.pi * f * (x * math.cos(a) + y * math.sin(a)))
        for f in GABOR_FREQUENCIES
        for a in GABOR_ORIENTATIONS
    ]
    return torch.stack(kernels)


def random_target(size: int, seed: int = 0) -> torch.Tensor:
    """Uniform noise in [-1, 1], reproducible from ``seed``: (1, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, size, size, generator=generator) * 2 - 1


def image_target(size: int, seed: int = 0) -> torch.Tensor:
    """The central 256 x 256 grey patch of scikit-learn's ``china.jpg``, resized and scaled to [-1, 1]."""
    from sklearn.datasets import load_sample_image

    rgb = torch.tensor(load_sample_image("china.jpg"), dtype=torch.float32)  # (H, W, 3)
    grey = rgb @ torch.tensor([0.299, 0.587, 0.114])  # (H, W)
    top, left = (grey.shape[0] - 256) // 2, (grey.shape[1] - 256) // 2
    patch = grey[top : top + 256, left : left + 256]
    small = F.interpolate(patch[None, None], size=(size, size), mode="bilinear", antialias=True)[0]  # (1, size, size)
    return (small - small.min()) / (small.max() - small.min()) * 2 - 1


TARGETS: dict[str, Callable[[int, int], torch.Tensor]] = {
    "gabor": gabor_target,
    "random": random_target,
    "image": image_target,
}


def make_target(name: str, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """Target kernel ``name`` on a size x size grid: (channels, size, size)."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; known: {sorted(TARGETS)}")
    return TARGETS[name](size, seed)


def make_net(
    name: str,
    out_channels: int,
    hidden: int = HIDDEN,
    layers: int = LAYERS,
    seed: int = 0,
    input_scale: float = ORIGINAL_INPUT_SCALE,
) -> KernelNet:
    """A 2D kernel network ``name`` with ``layers`` hidden maps of width ``hidden`` (see module doc);
    ``input_scale`` applies to the multiplicative filter networks (the others have none)."""
    cls = kernel_net_class(name)
    if input_scale <= 0:
        raise ValueError(f"input_scale must be > 0, got {input_scale}")
    torch.manual_seed(seed)
    make: Callable[..., KernelNet] = cls  # each registered class takes its own keyword options
    if issubclass(cls, MultiplicativeFilterNet):
        return make(2, out_channels, hidden_channels=hidden, num_layers=layers, input_scale=input_scale)
    return make(2, out_channels, hidden_channels=hidden, num_layers=layers + 2)


def psnr(kernel: torch.Tensor, target: torch.Tensor) -> float:
    """The original code's PSNR in dB: ``-10 log10(mean((t - clip(k, 0, 1))^2))`` on [0, 1] images,
    after mapping our [-1, 1] target and fit by ``(x + 1) / 2``."""
    mse = float(((target + 1) / 2 - ((kernel + 1) / 2).clamp(0.0, 1.0)).square().mean())
    return math.inf if mse == 0 else -10 * math.log10(mse)  # NaN for a diverged fit


def first_below(curve: Sequence[float], level: float) -> Optional[int]:
    """The first iteration whose MSE is <= ``level`` (None if never)."""
    return next((i for i, value in enumerate(curve) if value <= level), None)


def fit(net: KernelNet, target: torch.Tensor, iterations: int = ORIGINAL_ITERATIONS, lr: float = ORIGINAL_LR) -> dict:
    """Fit ``net`` to ``target`` (C, *S) by MSE and Adam on the grid ``linspace(-1, 1)`` per axis.

    Returns ``mse`` and ``psnr`` of the kernel with the lowest training MSE (the original keeps
    those weights), ``curve`` (the MSE before each step and after the last: ``iterations + 1``
    values), ``kernel`` (that kernel, detached) and ``seconds``.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    positions = relative_positions(target.shape[1:], dtype=target.dtype)  # (D, *S)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    curve: list[float] = []
    best: tuple[float, torch.Tensor] = (math.inf, target)
    start = time.perf_counter()
    for _ in range(iterations + 1):
        output = net(positions)
        loss = F.mse_loss(output, target)
        curve.append(loss.item())
        if curve[-1] < best[0]:  # NaN never wins
            best = (curve[-1], output.detach())
        if len(curve) > iterations:
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    mse, kernel = best if math.isfinite(best[0]) else (curve[-1], output.detach())
    return {
        "mse": mse,
        "psnr": psnr(kernel, target),
        "curve": curve,
        "kernel": kernel,
        "seconds": time.perf_counter() - start,
    }


def fit_one(
    target: str,
    net: str,
    *,
    iterations: int = ORIGINAL_ITERATIONS,
    lrs: Sequence[float] = (ORIGINAL_LR,),
    hidden: int = HIDDEN,
    layers: int = LAYERS,
    size: int = SIZE,
    seed: int = 0,
    input_scale: float = ORIGINAL_INPUT_SCALE,
) -> dict[str, Any]:
    """Fit network ``net`` to target ``target`` at every learning rate of ``lrs`` from the same initialisation and
    keep the best fit; the defaults are the original protocol (see the module docstring).

    Returns a JSON-able dict: ``target``, ``net``, ``seed``, ``params``, ``lr`` (the best), ``mse_per_lr``, ``mse``,
    ``psnr``, ``wall_time_s`` (all rates) and ``device``; ``curve``, the best fit's MSE every ``curve_every``
    iterations (about :data:`CURVE_POINTS` values, 3 significant digits), and ``kernel``, the best fit
    (C, size, size) as nested lists to 4 significant digits.
    """
    values = make_target(target, size, seed)
    fits = {}
    for lr in lrs:
        model = make_net(net, values.shape[0], hidden, layers, seed, input_scale)
        fits[lr] = fit(model, values, iterations, lr)
    best_lr = min(fits, key=lambda lr: fits[lr]["mse"] if math.isfinite(fits[lr]["mse"]) else math.inf)
    best = fits[best_lr]
    log.info("%s / %s: MSE %.3g, PSNR %.1f dB at lr %g", target, net, best["mse"], best["psnr"], best_lr)
    every = max(1, iterations // CURVE_POINTS)
    return {
        "target": target,
        "net": net,
        "seed": seed,
        "params": sum(p.numel() for p in model.parameters()),
        "lr": best_lr,
        "mse_per_lr": {str(lr): f["mse"] for lr, f in fits.items()},
        "mse": best["mse"],
        "psnr": best["psnr"],
        "wall_time_s": round(sum(f["seconds"] for f in fits.values()), 2),
        "device": "cpu",
        "curve": significant(best["curve"][::every], 3),
        "curve_every": every,
        "kernel": significant(best["kernel"].tolist(), 4),
    }


def significant(values: Any, digits: int) -> Any:
    """A number, or nested lists of them, rounded to ``digits`` significant digits (small JSON records)."""
    if isinstance(values, list):
        return [significant(value, digits) for value in values]
    return float(f"{values:.{digits}g}")


def page_config(target: str, net: str, seed: int, fast: bool) -> dict[str, Any]:
    """The keywords of :func:`fit_one` for a row of the results page: the original protocol, or ``--fast``'s
    60 steps at two rates."""
    return {
        "target": target,
        "net": net,
        "seed": seed,
        "iterations": 60 if fast else ORIGINAL_ITERATIONS,
        "lrs": [0.01, 0.001] if fast else [ORIGINAL_LR],
        "hidden": HIDDEN,
        "layers": LAYERS,
        "size": SIZE,
        "input_scale": ORIGINAL_INPUT_SCALE,
    }


def page_command(target: str, net: str, fast: bool) -> str:
    """The ``flexconv fit-kernel`` command of a row of the results page (S = the seed)."""
    config = page_config(target, net, 0, fast)
    lrs = ",".join(f"{lr:g}" for lr in config["lrs"])
    return (
        f"flexconv fit-kernel --targets {target} --nets {net} --iterations {config['iterations']} --lr {lrs} --seed S"
    )


def plot_curves(results: Sequence[dict[str, Any]], path: Path) -> None:
    """MSE against iteration of :func:`fit_one` results: one panel per target, one line per network (log scale)."""
    from matplotlib.figure import Figure

    targets = list(dict.fromkeys(r["target"] for r in results))
    fig = Figure(figsize=(4.2 * len(targets), 3.4), layout="constrained")
    axes = fig.subplots(1, len(targets), squeeze=False)[0]
    for ax, target in zip(axes, targets):
        for r in (r for r in results if r["target"] == target):
            steps = range(0, r["curve_every"] * len(r["curve"]), r["curve_every"])
            ax.plot(steps, r["curve"], label=f"{r['net']} ({r['psnr']:.1f} dB)")
        ax.set(title=f"target: {target}", xlabel="iteration", ylabel="MSE", yscale="log")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def plot_kernels(results: Sequence[dict[str, Any]], path: Path) -> None:
    """Targets (made again from their name, size and seed) and the fits of :func:`fit_one` results: one row per
    target channel, columns target then networks."""
    from matplotlib.figure import Figure

    nets = list(dict.fromkeys(r["net"] for r in results))
    targets: dict[str, torch.Tensor] = {}
    for r in results:
        if r["target"] not in targets:
            targets[r["target"]] = make_target(r["target"], len(r["kernel"][0]), r["seed"])
    rows = [(t, c) for t, value in targets.items() for c in range(value.shape[0])]
    fig = Figure(figsize=(1.6 * (len(nets) + 1), 1.6 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), len(nets) + 1, squeeze=False)
    fitted = {(r["target"], r["net"]): torch.tensor(r["kernel"]) for r in results}
    for (target, channel), row_axes in zip(rows, axes):
        images = [targets[target][channel]] + [fitted[target, net][channel] for net in nets]
        titles = [f"{target} [{channel}]"] + nets
        for ax, image, title in zip(row_axes, images, titles):
            ax.imshow(image.numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    fig.savefig(path, dpi=110)


def write_outputs(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write ``fit_kernel.json`` (settings and per-pair results with curves), ``fit_kernel.png``
    (MSE curves) and ``fit_kernel_kernels.png`` (targets and fits) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "fit_kernel.json",
        "curves": out / "fit_kernel.png",
        "kernels": out / "fit_kernel_kernels.png",
    }
    rows = [{k: v for k, v in r.items() if k != "kernel"} for r in report["results"]]
    paths["json"].write_text(json.dumps({"settings": report["settings"], "results": rows}, indent=1))
    plot_curves(report["results"], paths["curves"])
    plot_kernels(report["results"], paths["kernels"])
    return paths


def print_table(report: dict[str, Any]) -> None:
    """A rich table per pair: parameters, best lr, MSE, PSNR, steps to reach 10x the target's best MSE (to the
    curve's resolution)."""
    from rich.console import Console
    from rich.table import Table

    s = report["settings"]
    lrs = ", ".join(f"{lr:g}" for lr in s["lrs"])
    table = Table(
        title=f"Kernel fitting, {s['size']}x{s['size']} grid, {s['iterations']} Adam steps, best lr of {lrs}, "
        f"input scale {s['input_scale']:g}"
    )
    for column in ("target", "network", "params", "lr", "MSE", "PSNR (dB)", "steps to 10x best", "time (s)"):
        table.add_column(column, justify="left" if column in ("target", "network") else "right")
    for target in dict.fromkeys(r["target"] for r in report["results"]):
        rows = [r for r in report["results"] if r["target"] == target]
        level = 10 * min(r["mse"] for r in rows)
        for r in rows:
            steps = first_below(r["curve"], level)
            table.add_row(
                target,
                r["net"],
                f"{r['params']:,}",
                f"{r['lr']:g}",
                f"{r['mse']:.3g}",
                f"{r['psnr']:.2f}",
                "-" if steps is None else str(steps * r["curve_every"]),
                f"{r['wall_time_s']:.1f}",
            )
    Console().print(table)
