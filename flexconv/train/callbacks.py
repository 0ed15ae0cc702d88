"""End-of-run outputs: pictures of the learned kernels and ``summary.json``.

:class:`KernelPictures` (at the end of fit, rank 0) writes
  ``kernel_sizes.png``: per continuous layer, the learned kernel extent = taps after cropping /
  grid size, per axis (a FlexConv starts at about 2 x 2.15 x mask width and grows as it learns);
  ``kernels.png``: a few kernels of the first and the last layer (images, or curves in 1D).
:class:`RunSummary` writes ``summary.json`` at the end of fit (steps, best checkpoint and score,
learned kernel sizes, parameters) and adds the test metrics when testing ends.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from flexconv.nn.ckconv import CKConv

log = logging.getLogger(__name__)


def continuous_layers(model: nn.Module) -> list[tuple[str, CKConv]]:
    """(name, layer) of every CKConv/FlexConv whose grid is fixed, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, CKConv) and int(m.grid_size.min()) > 0]


def kernel_extents(model: nn.Module) -> dict[str, list[float]]:
    """Per layer name, the cropped kernel's fraction of the grid per axis (1.0 = the full grid)."""
    return {
        name: [k / n for k, n in zip(layer.effective_kernel_size(), layer.grid_sizes())]
        for name, layer in continuous_layers(model)
    }


def plot_kernel_sizes(model: nn.Module, path: Path) -> None:
    """Bar plot of :func:`kernel_extents`, one bar per layer and axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    extents = kernel_extents(model)
    names = list(extents)
    dims = len(next(iter(extents.values())))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(names) * dims), 3.5))
    width = 0.8 / dims
    for d in range(dims):
        xs = [i + d * width for i in range(len(names))]
        ax.bar(xs, [extents[n][d] for n in names], width=width, label=f"axis {d}")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("kernel size / grid size")
    ax.set_title("learned kernel extent per layer")
    if dims > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@torch.no_grad()
def plot_kernels(model: nn.Module, path: Path, count: int = 6) -> None:
    """The first ``count`` kernels (output o, input 0) of the first and last continuous layers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = continuous_layers(model)
    chosen = [layers[0], layers[-1]] if len(layers) > 1 else layers
    fig, axes = plt.subplots(len(chosen), count, figsize=(1.6 * count, 1.8 * len(chosen)), squeeze=False)
    for row, (name, layer) in zip(axes, chosen):
        kernel = layer.make_kernel().float().cpu()  # (out, in, *K)
        for o, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if o >= kernel.shape[0]:
                ax.axis("off")
                continue
            k = kernel[o, 0]
            if k.dim() == 1:
                ax.plot(k.numpy())
            else:
                ax.imshow(k.reshape(k.shape[0], -1).numpy(), cmap="RdBu_r")
        row[0].set_ylabel(name, fontsize=6)
    fig.suptitle("learned kernels (output o, input 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


class KernelPictures(L.Callback):
    """Writes kernel_sizes.png and kernels.png into ``run_dir`` at the end of fit."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if not continuous_layers(pl_module):
            log.info("no continuous-kernel layers: no kernel pictures")
            return
        was_training = pl_module.training
        pl_module.eval()
        plot_kernel_sizes(pl_module, self.run_dir / "kernel_sizes.png")
        plot_kernels(pl_module, self.run_dir / "kernels.png")
        pl_module.train(was_training)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, torch.Tensor) else value


class RunSummary(L.Callback):
    """Keeps ``summary.json`` in ``run_dir`` up to date (end of fit, end of test)."""

    def __init__(self, run_dir: str | Path, extra: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.summary: dict[str, Any] = dict(extra or {})

    def write(self, trainer: L.Trainer) -> None:
        if trainer.is_global_zero:
            (self.run_dir / "summary.json").write_text(json.dumps(self.summary, indent=2, default=str))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        checkpoint = trainer.checkpoint_callback
        self.summary.update(
            epochs=trainer.current_epoch,
            global_step=trainer.global_step,
            params=sum(p.numel() for p in pl_module.parameters()),
            best_checkpoint=getattr(checkpoint, "best_model_path", "") or None,
            best_score=_plain(getattr(checkpoint, "best_model_score", None)),
            kernel_extents=kernel_extents(pl_module),
            fit_metrics={k: _plain(v) for k, v in trainer.callback_metrics.items()},
        )
        self.write(trainer)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.summary["test_metrics"] = {k: _plain(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        self.write(trainer)
