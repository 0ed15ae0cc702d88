"""Profile training steps of a model with ``torch.profiler``.

The model is one of: ``--model`` (a name of :func:`flexconv.models.registry.list_models`, with
its default data fields), ``--experiment`` (a preset, with ``--override key=value`` as for
``flexconv train``: its model on its dataset's input shape) or ``--checkpoint`` (the trained
model of a run, on its dataset's input shape). It gets random inputs (``--batch`` x in_channels x
the spatial shape: ``--resolution``^2 for images, ``--length`` for sequences, by default the
dataset's) and random labels, runs ``--warmup`` untimed and ``--steps`` profiled training steps
(forward, loss, backward, Adam), prints the operator table sorted by self CPU time and writes
``profile.txt`` (that table) and ``trace.json`` (a Chrome trace: open it in chrome://tracing or
https://ui.perfetto.dev) into ``--out``.

    flexconv profile --model flexnet7 --batch 16 --resolution 32 --out outputs/profile
    flexconv profile --experiment main_job --steps 5
    flexconv profile --checkpoint runs/main_job/<run>/checkpoints/last.ckpt

On a machine without a GPU, torch's profiler library (kineto, C++) writes "gpuGetDeviceCount
failed" to the process's stderr while it probes for GPUs; that one line is filtered out.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from flexconv.models.registry import build_model, model_config
from flexconv.nn import param_groups


def spatial_shape(data_dim: int, resolution: int, length: int) -> tuple[int, ...]:
    """(length,) for sequences, (resolution,) * data_dim otherwise."""
    return (length,) if data_dim == 1 else (resolution,) * data_dim


def random_batch(
    config: Any, batch: int, spatial: tuple[int, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs (B, C, *spatial) and random targets (labels, or values when the model has a
    single output); ``config`` has ``in_channels`` and ``num_classes`` (a model config or a dataset record)."""
    channels, classes = config.in_channels, config.num_classes
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


GPU_PROBE_LINE = "gpuGetDeviceCount failed"


@contextlib.contextmanager
def stderr_without(fragment: str) -> Iterator[None]:
    """Within: the process's stderr (file descriptor 2, which C++ code writes to) is collected,
    and written back afterwards without the lines containing ``fragment``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as collected:
        os.dup2(collected.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            collected.seek(0)
            lines = collected.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if fragment not in line))
            sys.stderr.flush()


def profile_module(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    label: str,
    steps: int = 3,
    warmup: int = 1,
    out: Path = Path("outputs/profile"),
    sort_by: str = "self_cpu_time_total",
    row_limit: int = 30,
) -> dict:
    """Profile ``steps`` training steps of ``model`` on (x, y); write ``profile.txt`` and ``trace.json``.

    Returns ``table`` (the key_averages table), ``params``, ``input_shape``, ``seconds_per_step``
    (wall time under the profiler, so an upper bound) and the two ``paths``.
    """
    model = model.to(x.device).train()
    optimizer = torch.optim.Adam(param_groups(model, lr=1e-3))
    for _ in range(warmup):
        training_step(model, optimizer, x, y)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if x.device.type == "cuda" else [])
    quiet = stderr_without(GPU_PROBE_LINE) if x.device.type == "cpu" else contextlib.nullcontext()
    start = time.perf_counter()
    with quiet, profile(activities=activities) as prof:
        for _ in range(steps):
            with record_function("training_step"):
                training_step(model, optimizer, x, y)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / max(steps, 1)
    table = prof.key_averages().table(sort_by=sort_by, row_limit=row_limit)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "profile.txt", "trace": out / "trace.json"}
    params = sum(p.numel() for p in model.parameters())
    header = f"{label}: {params:,} parameters, input {tuple(x.shape)}, {steps} steps\n"
    paths["table"].write_text(header + table + "\n")
    prof.export_chrome_trace(str(paths["trace"]))
    return {
        "table": table,
        "params": params,
        "input_shape": tuple(x.shape),
        "seconds_per_step": seconds,
        "paths": paths,
    }


def profile_model(
    name: str, *, batch: int = 16, resolution: int = 32, length: int = 256, device: str = "cpu", **options: Any
) -> dict:
    """Profile registered model ``name`` on random inputs of ``batch`` x its input shape
    (``options``: those of :func:`profile_module`)."""
    torch.manual_seed(0)
    config = model_config(name)
    x, y = random_batch(config, batch, spatial_shape(config.data_dim, resolution, length), torch.device(device))
    return profile_module(build_model(config), x, y, label=f"model {name}", **options)


def model_and_record(
    experiment: Optional[str], checkpoint: Optional[Path], overrides: Sequence[str]
) -> tuple[nn.Module, Any]:
    """(model, dataset record) of a preset (with ``overrides``) or of a checkpoint's run."""
    from omegaconf import DictConfig, OmegaConf

    from flexconv.train.builders import build_module, datamodule_from_config
    from flexconv.train.config import compose_config

    if checkpoint is not None:
        from flexconv.train.checkpoints import load_module

        module = load_module(checkpoint)
        return module.model, datamodule_from_config(
            cast(DictConfig, OmegaConf.create(module.hparams["run_config"]))
        ).record
    cfg = compose_config([f"experiment={experiment}", *overrides])
    record = datamodule_from_config(cfg).record
    return build_module(cfg, record).model, record
