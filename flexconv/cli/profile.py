"""``flexconv profile``: the command line of :mod:`flexconv.experiments.profile`.

    flexconv profile --model flexnet7 --batch 16 --resolution 32 --out outputs/profile
    flexconv profile --experiment main_job --steps 5
    flexconv profile --checkpoint runs/main_job/<run>/checkpoints/last.ckpt

It parses the arguments, builds the model and its random batch and prints the profiler's table.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from flexconv.experiments import profile as library
from flexconv.experiments.profile import model_and_record, profile_model, profile_module, random_batch, spatial_shape
from flexconv.models.registry import list_models


def main(argv: Sequence[str]) -> None:
    """``flexconv profile [--model NAME | --experiment NAME | --checkpoint PATH] [--batch B] [--steps N]
    [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="flexconv profile", description=library.__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="registered model name (see --list; default flexnet7)")
    source.add_argument("--experiment", help="an experiment preset: its model, on its dataset's input shape")
    source.add_argument("--checkpoint", type=Path, help="a run's checkpoint: its model, on its dataset's input shape")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for --experiment (repeatable), as for flexconv train",
    )
    parser.add_argument("--list", action="store_true", help="list the registered models and exit")
    parser.add_argument("--batch", type=int, default=16, help="batch size")
    parser.add_argument("--resolution", type=int, help="image side for 2D/3D models (default: the dataset's, or 32)")
    parser.add_argument("--length", type=int, help="sequence length for 1D models (default: the dataset's, or 256)")
    parser.add_argument("--steps", type=int, default=3, help="profiled training steps")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before profiling")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    parser.add_argument("--sort", default="self_cpu_time_total", help="key_averages sort key")
    parser.add_argument("--rows", type=int, default=30, help="rows of the printed table")
    parser.add_argument("--out", type=Path, default=Path("outputs/profile"), help="output folder")
    args = parser.parse_args(list(argv))
    if args.list:
        print("\n".join(list_models()))
        return
    options = dict(steps=args.steps, warmup=args.warmup, out=args.out, sort_by=args.sort, row_limit=args.rows)
    if args.experiment is None and args.checkpoint is None:
        name = args.model or "flexnet7"
        if name not in list_models():
            raise SystemExit(f"profile: unknown model {name!r}; known: {', '.join(list_models())}")
        result = profile_model(
            name,
            batch=args.batch,
            resolution=args.resolution or 32,
            length=args.length or 256,
            device=args.device,
            **options,
        )
        label = name
    else:
        from flexconv.train.checkpoints import CheckpointError
        from flexconv.train.validate import ConfigError

        try:
            model, record = model_and_record(args.experiment, args.checkpoint, args.override)
        except (CheckpointError, ConfigError, ValueError) as error:
            raise SystemExit(f"profile: {error}") from None
        default = record.resolution[0] if record.resolution else 32
        spatial = spatial_shape(record.data_dim, args.resolution or default, args.length or record.length or 256)
        torch.manual_seed(0)
        x, y = random_batch(record, args.batch, spatial, torch.device(args.device))
        label = args.experiment or str(args.checkpoint)
        result = profile_module(model, x, y, label=label, **options)
    print(result["table"])
    print(
        f"{label}: {result['params']:,} parameters, input {result['input_shape']}, "
        f"{result['seconds_per_step']:.3f} s per training step (under the profiler)"
    )
    print(f"wrote {result['paths']['table']} and {result['paths']['trace']}")
