"""The LightningModule of every experiment: a registered model, its task's loss, metrics and optimiser.

The module is built from data (a model name and its configuration), so a checkpoint rebuilds it:
``TaskModule.load_from_checkpoint(path)``.

Objectives (``objective``, the task):
  "classification": cross-entropy on logits (B, K); top-1 and top-5 accuracy.
  "regression":     mean squared error on outputs (B, K) (adding problem).
  "per_step":       cross-entropy at every time step (copy memory): outputs (B, T, K) from the
                    model's ``forward_steps`` (see :class:`StepwiseModel`).

Optimiser: Adam, AdamW or SGD over :func:`flexconv.nn.param_groups` (mask parameters carry their
x0.1 learning-rate hint). ``optim.weight_decay`` is the optimiser's weight decay (every parameter);
``optim.kernel_norm_decay`` is the FlexConv/CKConv papers' "weight decay", a loss term (see
:func:`kernel_norm_penalty`). The loss a training step minimises is :meth:`TaskModule.training_loss`:
the task loss plus every regulariser (kernel-norm decay, anti-aliasing). Schedulers: "cosine" (linear warm-up then
cosine to ``min_lr``, stepped every optimiser step, as in the paper), "plateau", "multistep", "exponential" (per
epoch), "none".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Protocol, cast, runtime_checkable

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from flexconv.models.registry import build_model, config_dict, model_config
from flexconv.nn import StaticCrops, param_groups
from flexconv.nn.antialias import AntiAliasing
from flexconv.nn.ckconv import CKConv
from flexconv.nn.recording import recording_kernels
from flexconv.nn.static import compile_options

OBJECTIVES = ("classification", "regression", "per_step")
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("cosine", "plateau", "multistep", "exponential", "none")


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule.

    optimizer: "adam", "adamw" or "sgd"; lr; momentum, nesterov: SGD only.
    weight_decay: the optimiser's own weight decay (L2 on every parameter, masks included).
    kernel_norm_decay: the original code's ``train.weight_decay``: adds
        ``kernel_norm_decay * kernel_norm_penalty(model)`` to the loss (the paper's sequential runs: 1e-4).
    scheduler: one of SCHEDULERS.
    warmup_epochs, min_lr: cosine (linear warm-up, then cosine to min_lr; min_lr is relative to
        ``lr`` and scales with each group's lr factor).
    factor, patience, monitor, mode: plateau (``factor`` multiplies the lr: 0.2 = "divide by 5").
    milestones, gamma: multistep (epochs) and exponential (gamma per epoch).
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    kernel_norm_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    scheduler: str = "cosine"
    warmup_epochs: float = 0.0
    min_lr: float = 1e-6
    factor: float = 0.2
    patience: int = 20
    monitor: str = "val/acc"
    mode: str = "max"
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optim.optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"optim.scheduler must be one of {list(SCHEDULERS)}, got {self.scheduler!r}")
        if self.weight_decay < 0 or self.kernel_norm_decay < 0:
            raise ValueError(
                f"optim.weight_decay and optim.kernel_norm_decay must be >= 0, got {self.weight_decay}, "
                f"{self.kernel_norm_decay}"
            )


@runtime_checkable
class StepwiseModel(Protocol):
    """A model with outputs at every time step, for the "per_step" objective (e.g.
    :class:`~flexconv.models.FlexNet`)."""

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, T, K): the model's output head applied at every step instead of once."""
        ...


def topk_accuracy(logits: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """Fraction of rows whose target is among the k largest logits. logits (N, K), target (N,)."""
    k = min(k, logits.shape[-1])
    hits = (logits.topk(k, dim=-1).indices == target.unsqueeze(-1)).any(-1)
    return hits.float().mean()


def kernel_norm_penalty(model: nn.Module, kernels: Optional[Mapping[CKConv, torch.Tensor]] = None) -> torch.Tensor:
    """Sum over every CKConv/FlexConv layer of ``||effective kernel||_2 + ||bias||_2``.

    The original code's "weight decay" (its ``LnLoss`` with ``norm_type=2``): plain (not squared)
    Frobenius norms of the kernel actually used, after the mask and cropping, and of the bias;
    kernel networks, masks, norms and heads are not decayed directly. Every layer's grid must be
    fixed (run a forward first). kernels: the kernels the forward used
    (:func:`flexconv.nn.recording.recording_kernels`), reused instead of evaluated again. Returns a
    scalar (0 when there are no such layers).
    """
    kernels = kernels or {}
    total = torch.zeros((), device=next(model.parameters()).device, dtype=next(model.parameters()).dtype)
    for layer in model.modules():
        if isinstance(layer, CKConv):
            kernel = kernels.get(layer)
            total = total + (kernel if kernel is not None else layer.make_kernel()).norm()
            if layer.bias is not None:
                total = total + layer.bias.norm()
    return total


def cosine_with_warmup(step: int, warmup_steps: int, total_steps: int, floor: float) -> float:
    """LR multiplier: linear warm-up to 1 over ``warmup_steps``, then cosine down to ``floor``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class TaskModule(L.LightningModule):
    """Trains registered model ``model_name`` built with ``model_options`` on one task (``objective``).

    model_name, model_options: see :func:`flexconv.models.registry.get_model`.
    optim: :class:`OptimConfig` fields.
    objective: one of OBJECTIVES; "per_step" needs a :class:`StepwiseModel`.
    antialias: :class:`flexconv.nn.antialias.AntiAliasing` fields, or None (no regulariser).
    resolution_change: ``[source, target]`` when the model was moved to another resolution
        (cross-resolution fine-tuning); applied after building so checkpoints rebuild it.
    run_config: the resolved run configuration, kept in the checkpoint's hyperparameters so that
        ``flexconv evaluate`` can rebuild the data.
    compile: run each step's forward and loss (and so its backward) under ``torch.compile(fullgraph=True)``;
        FlexConv layers then crop to static sizes that :class:`flexconv.nn.StaticCrops` refreshes before
        every batch (at most ``StaticCrops.max_changes`` recompiles per mode over a run). ``self.model``
        stays the plain module: checkpoints and exports are those of an eager run.
    compile_mode: ``torch.compile``'s ``mode`` ("reduce-overhead" for CUDA graphs, "max-autotune", ...), passed as
        its options with inductor's layout optimisation off (:func:`flexconv.nn.static.compile_options`).
    """

    def __init__(
        self,
        model_name: str,
        model_options: dict[str, Any],
        optim: dict[str, Any],
        objective: str = "classification",
        antialias: Optional[dict[str, Any]] = None,
        resolution_change: Optional[list[int]] = None,
        run_config: Optional[dict[str, Any]] = None,
        compile: bool = False,
        compile_mode: Optional[str] = None,
    ) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
        if compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {list(COMPILE_MODES)}, got {compile_mode!r}")
        self.save_hyperparameters()
        config = model_config(model_name, **model_options)
        self.model_config = config_dict(config)
        self.model: nn.Module = build_model(config)
        if objective == "per_step" and not isinstance(self.model, StepwiseModel):
            raise ValueError(
                f"objective 'per_step' needs a model with outputs at every step (forward_steps); "
                f"{model_name} ({type(self.model).__name__}) has none"
            )
        self.optim = OptimConfig(**optim)
        self.objective = objective
        self.antialias = AntiAliasing(**antialias) if antialias else None
        if resolution_change is not None:
            from flexconv.nn.resolution import change_resolution

            change_resolution(self.model, *resolution_change)
        self.use_compile = compile  # not self.compile: that would hide nn.Module.compile()
        self.compile_mode = compile_mode
        self._compiled_losses: Optional[Any] = None
        self._crops: Optional[StaticCrops] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, *S) -> (B, K), or (B, T, K) for the per-step objective."""
        if self.objective == "per_step":
            return cast(StepwiseModel, self.model).forward_steps(x)  # (B, T, K); checked in __init__
        return self.model(x)

    def _task_loss(self, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The objective's loss for outputs ``out`` and targets ``y``, and its metrics."""
        metrics: dict[str, torch.Tensor] = {}
        if self.objective == "regression":
            loss = F.mse_loss(out, y.view_as(out).to(out.dtype))
        elif self.objective == "per_step":
            flat, target = out.reshape(-1, out.shape[-1]), y.reshape(-1).long()  # (B*T, K), (B*T,)
            loss = F.cross_entropy(flat, target)
            metrics["acc"] = topk_accuracy(flat, target, 1)
        else:
            loss = F.cross_entropy(out, y)
            metrics["acc"] = topk_accuracy(out, y, 1)
            if out.shape[-1] > 5:
                metrics["acc_top5"] = topk_accuracy(out, y, 5)
        metrics["loss"] = loss
        return loss, metrics

    def regularizers(self, kernels: Optional[Mapping[CKConv, torch.Tensor]] = None) -> dict[str, torch.Tensor]:
        """The configured loss terms on the weights, by name ("kernel_norm", "antialias"); call after a forward.

        kernels: the kernels that forward used (:func:`~flexconv.nn.recording.recording_kernels`), to reuse."""
        terms: dict[str, torch.Tensor] = {}
        if self.optim.kernel_norm_decay > 0:
            terms["kernel_norm"] = self.optim.kernel_norm_decay * kernel_norm_penalty(self.model, kernels)
        if self.antialias is not None:
            terms["antialias"] = self.antialias(self.model)
        return terms

    def _losses(self, x: torch.Tensor, y: torch.Tensor, train: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward, task loss (+ regularisers when ``train``): the part of a step that ``compile`` compiles."""
        with recording_kernels(self.model) as kernels:
            out = self(x)
        loss, metrics = self._task_loss(out, y)
        if train:
            for name, value in self.regularizers(kernels).items():
                metrics[name] = value
                loss = loss + value
        return loss, metrics

    def _compiled(self, x: torch.Tensor) -> Any:
        """``_losses`` under torch.compile, built at the first batch: a grid that the first input fixes
        ("same"/"full" horizons) is fixed first by one eager forward of one example, in eval mode (no
        BatchNorm statistics, no dropout draws), and the static crop sizes are refreshed before each call."""
        if self._compiled_losses is None:
            layers = [m for m in self.model.modules() if isinstance(m, CKConv)]
            if any(layer._grid is None for layer in layers):
                was_training = self.training
                self.eval()
                with torch.no_grad():
                    self(x[:1])
                self.train(was_training)
            self._crops = StaticCrops(self.model)
            # every refresh that changes a size recompiles each mode's graph (training, evaluation) once
            limit = 4 * (self._crops.max_changes + 2)
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
            self._compiled_losses = torch.compile(
                self._losses, fullgraph=True, options=compile_options(self.compile_mode)
            )
        assert self._crops is not None  # built with the compiled losses above
        self._crops.refresh()
        return self._compiled_losses

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        """Forward, loss (+ regularisers in training) and logging; returns the loss to minimise."""
        x, y = batch[0], batch[1]
        if self.use_compile:
            try:
                loss, metrics = self._compiled(x)(x, y, stage == "train")
            except torch._dynamo.exc.TorchDynamoException as error:
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise RuntimeError(
                    f"compile=true: torch.compile cannot compile {type(self.model).__name__}'s "
                    f"{stage} step: {first_line} (run with compile=false)"
                ) from error
        else:
            loss, metrics = self._losses(x, y, stage == "train")
        on_step = stage == "train"
        for name, value in metrics.items():
            self.log(
                f"{stage}/{name}",
                value,
                on_step=on_step,
                on_epoch=True,
                prog_bar=name in ("loss", "acc"),
                sync_dist=stage != "train",
                batch_size=x.shape[0],
            )
        return loss

    def training_loss(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The total loss that ``training_step`` minimises: task loss + every regulariser. Scalar."""
        with recording_kernels(self.model) as kernels:
            out = self(inputs)
        loss, _ = self._task_loss(out, labels)
        return loss + sum(self.regularizers(kernels).values(), torch.zeros_like(loss))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> Any:
        cfg = self.optim
        groups = param_groups(self.model, cfg.lr, cfg.weight_decay)
        for group in groups:
            group.pop("names")
        # foreach: the same numbers as the per-tensor loop that torch uses on CPU by default, in half its time for
        # the ~200 small tensors of a FlexNet (measured: Adam 9.4 vs 19.6 ms a step, 6 % of a 14x14 FlexNet's
        # training step); on CUDA it is the default.
        if cfg.optimizer == "sgd":
            optimizer: torch.optim.Optimizer = torch.optim.SGD(
                groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, foreach=True
            )
        else:
            optimizer = (torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW)(
                groups, lr=cfg.lr, foreach=True
            )
        if cfg.scheduler == "none":
            return optimizer
        if cfg.scheduler == "cosine":
            total = self.trainer.estimated_stepping_batches  # also sets num_training_batches
            if math.isinf(total):
                raise ValueError("the cosine schedule needs a finite trainer.max_epochs or trainer.max_steps")
            total = int(total)
            steps_per_epoch = self.trainer.num_training_batches / self.trainer.accumulate_grad_batches
            if math.isinf(steps_per_epoch):  # max_epochs=-1: Lightning never counts the batches of an epoch
                raise ValueError(
                    "the cosine schedule's warm-up is in epochs: with trainer.max_steps, bound "
                    "trainer.max_epochs too (e.g. 100000), not -1"
                )
            warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
            floor = cfg.min_lr / cfg.lr
            scheduler: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: cosine_with_warmup(step, warmup, total, floor)
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        if cfg.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=cast(Literal["min", "max"], cfg.mode), factor=cfg.factor, patience=cfg.patience
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": cfg.monitor}}
        if cfg.scheduler == "multistep":
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=cfg.milestones, gamma=cfg.gamma)
        else:
            scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.gamma)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
