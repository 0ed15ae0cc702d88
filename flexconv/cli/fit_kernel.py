"""``flexconv fit-kernel``: the command line of :mod:`flexconv.experiments.fit_kernel`.

    flexconv fit-kernel --targets gabor,image --nets MAGNet,SIREN --iterations 3000 --out outputs/fit

It checks the names and rates given, runs the fits, prints their table and writes the report and pictures.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flexconv.experiments import fit_kernel as library
from flexconv.experiments.fit_kernel import (
    DEFAULT_NETS,
    HIDDEN,
    LAYERS,
    ORIGINAL_INPUT_SCALE,
    ORIGINAL_ITERATIONS,
    ORIGINAL_LR,
    SIZE,
    TARGETS,
    fit_one,
    print_table,
    write_outputs,
)
from flexconv.nn.kernels import KERNEL_NETS


def _names(text: str, known: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise SystemExit(f"fit-kernel: unknown {what} {unknown or text!r}; known: {', '.join(known)}")
    return names


def _rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"fit-kernel: --lr must be comma-separated numbers, got {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise SystemExit(f"fit-kernel: --lr needs positive rates, got {text!r}")
    return rates


def main(argv: Sequence[str]) -> None:
    """``flexconv fit-kernel [--targets ...] [--nets ...] [--iterations N] ... [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="flexconv fit-kernel", description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated: " + ", ".join(TARGETS))
    parser.add_argument(
        "--nets", default=",".join(DEFAULT_NETS), help="comma-separated: " + ", ".join(sorted(KERNEL_NETS))
    )
    parser.add_argument(
        "--iterations", type=int, default=ORIGINAL_ITERATIONS, help="Adam steps per fit (original: 3000)"
    )
    parser.add_argument(
        "--lr",
        default=str(ORIGINAL_LR),
        help="Adam learning rates (comma-separated; each pair keeps its best; original: 0.01)",
    )
    parser.add_argument(
        "--input-scale",
        type=float,
        default=ORIGINAL_INPUT_SCALE,
        help="input scale of MAGNet/GaborNet/FourierNet (original fitting code: 256; classification: 25.6)",
    )
    parser.add_argument("--hidden", type=int, default=HIDDEN, help="hidden width of every network")
    parser.add_argument("--layers", type=int, default=LAYERS, help="hidden (H x H) maps of every network")
    parser.add_argument("--size", type=int, default=SIZE, help="grid side (the paper: 33)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisations and of the random target")
    parser.add_argument("--out", type=Path, default=Path("outputs/fit_kernel"), help="output folder")
    args = parser.parse_args(list(argv))
    targets = _names(args.targets, list(TARGETS), "targets")
    nets = _names(args.nets, sorted(KERNEL_NETS), "networks")
    settings: dict[str, Any] = {
        "iterations": args.iterations,
        "lrs": _rates(args.lr),
        "hidden": args.hidden,
        "layers": args.layers,
        "size": args.size,
        "seed": args.seed,
        "input_scale": args.input_scale,
    }
    results = [fit_one(target, net, **settings) for target in targets for net in nets]
    report = {"settings": settings, "results": results}
    print_table(report)
    paths = write_outputs(report, args.out)
    from rich import print as rprint

    rprint("wrote " + ", ".join(str(p) for p in paths.values()))
