"""Callbacks and output of a training run: kernel pictures, ``summary.json``, checkpoints, quiet logs.

:class:`KernelPictures` (at the end of fit, rank 0) writes
  ``kernel_sizes.png``: per continuous layer and axis, the kernel size in taps after cropping, at
  the start of training and learned, against the grid size (a FlexConv starts at about
  2 x 2.15 x mask width of the grid and grows as it learns);
  ``kernels.png``: a few kernels of the first and the last layer (images with tap indices and a
  colour bar, or curves in 1D).
:class:`RunSummary` writes ``summary.json`` (whole or not at all) at the end of fit (steps, best checkpoint and score,
learned kernel sizes, parameters) and adds the test metrics when testing ends.
:class:`FitClock` counts a run's wall time and devices across interruptions (kept in its checkpoints);
:class:`LastCheckpoint` keeps ``last.ckpt`` after every epoch's first step and at the final step;
:class:`ParameterSummary` is Lightning's model summary without the FLOPs it does not measure;
:func:`quiet_lightning` drops Lightning's advertising and known deprecation noise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary
from torch import nn

from flexconv.atomic import write_text
from flexconv.nn.ckconv import CKConv
from flexconv.train.lightning_internals import format_summary_table, save_last_checkpoint

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


def kernel_taps(model: nn.Module) -> dict[str, tuple[list[int], list[int]]]:
    """Per layer name, (taps after cropping, grid taps) per axis."""
    return {
        name: (list(layer.effective_kernel_size()), list(layer.grid_sizes()))
        for name, layer in continuous_layers(model)
    }


def plot_kernel_sizes(model: nn.Module, path: Path, initial: Optional[dict[str, list[int]]] = None) -> None:
    """Bar plot of the kernel size in taps per layer and axis: learned (filled), at the start of
    training (``initial``, outlined) and the grid size (a black tick)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    taps = kernel_taps(model)
    names = list(taps)
    dims = len(next(iter(taps.values()))[0])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(names) * dims + 2), 4.0))
    width = 0.8 / dims
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for d in range(dims):
        xs = [i + (d - (dims - 1) / 2) * width for i in range(len(names))]
        learned = [taps[n][0][d] for n in names]
        axis = f" (axis {d})" if dims > 1 else ""
        bars = ax.bar(xs, learned, width=width * 0.9, color=colours[d % len(colours)], label=f"learned{axis}")
        labels = [str(k) for k in learned]
        if initial:
            start = [initial.get(n, [0] * dims)[d] for n in names]
            ax.bar(xs, start, width=width * 0.9, fill=False, hatch="//", edgecolor="0.3", label=f"at start{axis}")
            labels = [f"{s} \u2192 {k}" for s, k in zip(start, learned)]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
        ax.scatter(
            xs,
            [taps[n][1][d] for n in names],
            marker="_",
            s=200,
            color="black",
            label="grid size" if d == 0 else None,
            zorder=3,
        )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("kernel size (taps)")
    ax.set_ylim(0, 1.35 * max(max(t[1]) for t in taps.values()))  # room for the legend above the grid marks
    ax.set_title("kernel size per layer (taps):\nat the start \u2192 learned, and the grid size", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@torch.no_grad()
def plot_kernels(model: nn.Module, path: Path, count: int = 6) -> None:
    """The first ``count`` kernels (output o, input 0) of the first and last continuous layers,
    with tap indices on the axes and one symmetric colour scale (a colour bar) per layer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    layers = continuous_layers(model)
    chosen = [layers[0], layers[-1]] if len(layers) > 1 else layers
    fig, axes = plt.subplots(
        len(chosen), count, figsize=(2.0 * count + 1.0, 2.4 * len(chosen)), squeeze=False, layout="constrained"
    )
    for row, (name, layer) in zip(axes, chosen):
        kernel = layer.make_kernel().float().cpu()  # (out, in, *K)
        shown = kernel[:count, 0]  # (<=count, *K)
        scale = float(shown.abs().max()) or 1.0
        image = None
        for o, ax in enumerate(row):
            if o >= shown.shape[0]:
                ax.axis("off")
                continue
            k = shown[o]
            ax.set_title(f"o={o}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if k.dim() == 1:
                ax.plot(range(k.shape[0]), k.numpy())
                ax.set_ylim(-1.05 * scale, 1.05 * scale)
                ax.set_xlabel("tap", fontsize=6)
            else:
                flat = k.reshape(k.shape[0], -1).numpy()  # 3D kernels: depth slices side by side
                image = ax.imshow(flat, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_xlabel("tap (last axis)", fontsize=6)
        row[0].set_ylabel(f"{name}\n{'x'.join(str(n) for n in kernel.shape[2:])} taps", fontsize=7)
        if image is not None:
            fig.colorbar(image, ax=list(row), shrink=0.8, label="weight")
    fig.suptitle("learned kernels (output channel o, input channel 0)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


class KernelPictures(L.Callback):
    """Writes kernel_sizes.png and kernels.png into ``run_dir`` at the end of fit.

    The kernel sizes at the start are measured on the first training batch, with the mask
    parameters as they were before its optimiser step, and kept in checkpoints (resume).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.initial: Optional[dict[str, list[int]]] = None
        self._start: Optional[list[list[torch.Tensor]]] = None

    def state_dict(self) -> dict[str, Any]:
        return {"initial": self.initial} if self.initial is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.initial = state_dict.get("initial")

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.initial is None and self._start is None and trainer.global_step == 0:
            self._start = [[p.detach().clone() for p in _mask_parameters(layer)] for layer in _layers(pl_module)]

    @torch.no_grad()
    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._start is None:
            return
        self.initial = {}
        for (name, layer), start in zip(continuous_layers(pl_module), self._start):
            now = [p.detach().clone() for p in _mask_parameters(layer)]
            for p, value in zip(_mask_parameters(layer), start):
                p.copy_(value)
            self.initial[name] = list(layer.effective_kernel_size())
            for p, value in zip(_mask_parameters(layer), now):
                p.copy_(value)
        self._start = None

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if not continuous_layers(pl_module):
            log.info("no continuous-kernel layers: no kernel pictures")
            return
        was_training = pl_module.training
        pl_module.eval()
        plot_kernel_sizes(pl_module, self.run_dir / "kernel_sizes.png", self.initial)
        plot_kernels(pl_module, self.run_dir / "kernels.png")
        pl_module.train(was_training)


def _layers(model: nn.Module) -> list[CKConv]:
    return [m for m in model.modules() if isinstance(m, CKConv)]


def _mask_parameters(layer: CKConv) -> list[torch.Tensor]:
    return list(layer.mask.parameters()) if layer.mask is not None else []


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, torch.Tensor) else value


class RunSummary(L.Callback):
    """Keeps ``summary.json`` in ``run_dir`` up to date (end of fit, end of test)."""

    def __init__(self, run_dir: str | Path, extra: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.summary: dict[str, Any] = dict(extra or {})

    def write(self, trainer: L.Trainer) -> None:
        if trainer.is_global_zero:
            write_text(self.run_dir / "summary.json", json.dumps(self.summary, indent=2, default=str))

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
        self.summary["test_metrics"] = {
            k: _plain(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")
        }
        self.write(trainer)


class FitClock(L.Callback):
    """The wall time and the devices of a run across interruptions: each checkpoint keeps the seconds spent
    up to it and the devices that trained it, so a resumed run reports the time of its earlier segments (up
    to the checkpoint it resumed from; work redone after it is not counted twice) plus the current one, and
    every device (a run started on a GPU may finish on a CPU).

    start: ``time.perf_counter()`` when the current segment began.
    """

    def __init__(self, start: float) -> None:
        self.start = start
        self.earlier = 0.0
        self.devices: list[str] = []
        self.training = False  # from then on, checkpoints loaded (the best one, to test it) keep other runs' times

    @property
    def seconds(self) -> float:
        return self.earlier + time.perf_counter() - self.start

    @property
    def device(self) -> str:
        """The devices that trained the run, in order: "cpu", "NVIDIA H200", "NVIDIA H200 then cpu"."""
        return joined_devices(self.devices)

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "devices": self.devices}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self.training:
            self.earlier, self.devices = float(state_dict["seconds"]), list(state_dict["devices"])

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        device = device_name(trainer.strategy.root_device)
        if not self.devices or self.devices[-1] != device:
            self.devices.append(device)
        self.training = True


DEVICE_SEPARATOR = " then "
"""Between the devices of a run trained on several, in order: "NVIDIA H200 then cpu"."""


def joined_devices(devices: Sequence[str]) -> str:
    """``devices`` in order as one string, a device repeated in a row once; "unknown" when there are none."""
    kept = [device for i, device in enumerate(devices) if i == 0 or device != devices[i - 1]]
    return DEVICE_SEPARATOR.join(kept) or "unknown"


def device_name(device: torch.device) -> str:
    """ "cpu", or the name of a CUDA device ("NVIDIA H200")."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


class LastCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint(save_last=True, save_top_k=0)`` that saves ``last.ckpt`` after the first
    optimiser step of every epoch, every ``every_n_train_steps`` steps when set, and at the final
    step: an interrupted run loses at most an epoch and a step (less with periodic saves), resumes
    to the weights and metrics.csv of an uninterrupted run, and last.ckpt holds the final step.

    Why not at an epoch's end: Lightning (2.6) saves last.ckpt there only when a top-k checkpoint
    was saved at that step, which with ``save_top_k=0`` is never; and a run resumed from an
    epoch's boundary does not continue as the uninterrupted one did (the data iterator's seed is
    drawn at another point, the logged step moves by one). A save inside an epoch resumes exactly
    (:mod:`flexconv.train.resumable`). Epochs of a single step get no such save.
    """

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        first_step_of_epoch = batch_idx + 1 == trainer.accumulate_grad_batches
        if first_step_of_epoch and trainer.num_training_batches > trainer.accumulate_grad_batches:
            self._save_last_unless_saved(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save_last_unless_saved(trainer)

    def _save_last_unless_saved(self, trainer: L.Trainer) -> None:
        if self.save_last:
            save_last_checkpoint(self, trainer)


class ParameterSummary(ModelSummary):
    """Lightning's model summary without the FLOPs column and total: Lightning counts FLOPs only
    through an ``example_input_array`` and otherwise prints 0, which is not a measurement."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        columns = [column for column in summary_data if column[0] != "FLOPs"]
        table = format_summary_table(
            total_parameters, trainable_parameters, model_size, total_training_modes, total_flops, *columns
        )
        log.info("\n%s", table.rsplit("\n", 1)[0])  # the last line is "Total Flops"


class _DropTips(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing litlogger / litmodels" advertisements."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


NOISE_WARNINGS = (
    # lightning's pytree helper on torch >= 2.10: an internal deprecation, nothing a user can change
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    # DataOrder makes the training loader resumable mid-epoch; Lightning cannot see it
    r".*resuming from a checkpoint that ended before the epoch ended.*",
)


RESUME_WARNINGS = (
    # a resumed run writes into its own checkpoints folder: that it is not empty is expected
    r"Checkpoint directory .* exists and is not empty.*",
)


@contextlib.contextmanager
def quiet_lightning(resuming: bool = False) -> Iterator[None]:
    """Within: Lightning's advertising tips and the :data:`NOISE_WARNINGS` (and when ``resuming``
    the :data:`RESUME_WARNINGS`) are not shown.

    Targeted: a logging filter on Lightning's loggers for the tips, and one warnings filter per
    known message; every other message passes.
    """
    tips = _DropTips()
    loggers = [
        logging.getLogger(name)
        for name in (
            "lightning.pytorch.utilities.rank_zero",
            "lightning.pytorch",
            "lightning.fabric.utilities.rank_zero",
        )
    ]
    for logger in loggers:
        logger.addFilter(tips)
    try:
        with warnings.catch_warnings():
            for message in NOISE_WARNINGS + (RESUME_WARNINGS if resuming else ()):
                warnings.filterwarnings("ignore", message=message)
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(tips)
