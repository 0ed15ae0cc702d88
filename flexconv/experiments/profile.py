"""Profile training steps of a registered model with ``torch.profiler``.

Builds ``--model`` (any name of :func:`flexconv.models.registry.list_models`) with its default
data fields, feeds it random inputs of its input shape (``--batch`` x in_channels x
``--resolution``^2 for images, x ``--length`` for sequences) and random labels, runs
``--warmup`` untimed and ``--steps`` profiled training steps (forward, loss, backward, Adam),
prints the operator table sorted by self CPU time and writes ``profile.txt`` (that table) and
``trace.json`` (a Chrome trace: open it in chrome://tracing or https://ui.perfetto.dev) into
``--out``.

    flexconv profile --model flexnet7_cifar10 --batch 16 --resolution 32 --out outputs/profile
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from flexconv.models.registry import build_model, list_models, model_config
from flexconv.nn import param_groups


def random_batch(config: object, batch: int, resolution: int, length: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs (B, C, *S) of the model's input shape and random targets (labels, or values
    when the model has a single output)."""
    data_dim, channels, classes = config.data_dim, config.in_channels, config.num_classes
    spatial = (length,) if data_dim == 1 else (resolution,) * data_dim
    x = torch.randn(batch, channels, *spatial, device=device)
    y = torch.randn(batch, 1, device=device) if classes == 1 else torch.randint(0, classes, (batch,), device=device)
    return x, y


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    """One step: forward, loss (cross-entropy, or MSE for one output), backward, update."""
    logits = model(x)
    loss = F.mse_loss(logits, y) if logits.shape[-1] == 1 else F.cross_entropy(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def profile_model(
    name: str,
    *,
    batch: int = 16,
    resolution: int = 32,
    length: int = 256,
    steps: int = 3,
    warmup: int = 1,
    device: str = "cpu",
    out: Path = Path("outputs/profile"),
    sort_by: str = "self_cpu_time_total",
    row_limit: int = 30,
) -> dict:
    """Profile ``steps`` training steps of model ``name``; write ``profile.txt`` and ``trace.json``.

    Returns ``table`` (the key_averages table), ``params``, ``input_shape``, ``seconds_per_step``
    (wall time under the profiler, so an upper bound) and the two ``paths``.
    """
    torch.manual_seed(0)
    config = model_config(name)
    target = torch.device(device)
    model = build_model(config).to(target).train()
    optimizer = torch.optim.Adam(param_groups(model, lr=1e-3))
    x, y = random_batch(config, batch, resolution, length, target)
    for _ in range(warmup):
        training_step(model, optimizer, x, y)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if target.type == "cuda" else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        for _ in range(steps):
            with record_function("training_step"):
                training_step(model, optimizer, x, y)
        if target.type == "cuda":
            torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / max(steps, 1)
    table = prof.key_averages().table(sort_by=sort_by, row_limit=row_limit)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "profile.txt", "trace": out / "trace.json"}
    header = f"model {name}: {sum(p.numel() for p in model.parameters()):,} parameters, input {tuple(x.shape)}, {steps} steps\n"
    paths["table"].write_text(header + table + "\n")
    prof.export_chrome_trace(str(paths["trace"]))
    return {
        "table": table,
        "params": sum(p.numel() for p in model.parameters()),
        "input_shape": tuple(x.shape),
        "seconds_per_step": seconds,
        "paths": paths,
    }


def main(argv: Sequence[str]) -> None:
    """``flexconv profile [--model NAME] [--batch B] [--resolution R | --length T] [--steps N] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="flexconv profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="flexnet7_cifar10", help="registered model name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the registered models and exit")
    parser.add_argument("--batch", type=int, default=16, help="batch size")
    parser.add_argument("--resolution", type=int, default=32, help="image side for 2D/3D models")
    parser.add_argument("--length", type=int, default=256, help="sequence length for 1D models")
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
    if args.model not in list_models():
        raise SystemExit(f"profile: unknown model {args.model!r}; known: {', '.join(list_models())}")
    result = profile_model(
        args.model, batch=args.batch, resolution=args.resolution, length=args.length, steps=args.steps,
        warmup=args.warmup, device=args.device, out=args.out, sort_by=args.sort, row_limit=args.rows,
    )
    print(result["table"])
    print(
        f"{args.model}: {result['params']:,} parameters, input {result['input_shape']}, "
        f"{result['seconds_per_step']:.3f} s per training step (under the profiler)"
    )
    print(f"wrote {result['paths']['table']} and {result['paths']['trace']}")
