"""BatchNorm over the global batch of every DDP process, on GPUs and on CPUs (``trainer.sync_batchnorm``).

With DDP each process sees ``data.batch_size`` examples. Plain BatchNorm normalises by the
statistics of that local share, so 2 processes at batch B/2 train a different model than 1 process
at batch B. Synchronised BatchNorm normalises by the mean and variance of the global batch (all
processes together), and updates the running statistics from them: then, with a mean loss and
DDP's gradient averaging, 2 processes at B/2 take the same steps as 1 process at B.

Lightning's ``sync_batchnorm=True`` converts to :class:`torch.nn.SyncBatchNorm`, whose fused kernels
run only on GPUs (on a CPU, DDP refuses it). :class:`SyncBatchNormAnyDevice`, the plugin that
``flexconv train`` uses, keeps that conversion for GPUs and converts to :class:`GlobalBatchNorm` on
CPUs: two differentiable all-reduces (per-channel sum and count, then the sum of squared
deviations), whose backward all-reduces the gradients, so each process's gradient holds the other
processes' share through the statistics. On one process or in eval mode it is plain BatchNorm.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.plugins.layer_sync import TorchSyncBatchNorm
from torch import Tensor, nn
from torch.distributed.nn.functional import all_reduce


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the batches of every process of the default group, any device. x: (B, C, *S) -> (B, C, *S).

    num_features, eps, momentum, affine, track_running_stats: as BatchNorm's.
    original: the BatchNorm class it replaces (given back by :func:`revert_batch_norm`).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        original: type[nn.modules.batchnorm._BatchNorm] = nn.BatchNorm2d,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.original = original

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (B, C, *S) inputs, got shape {tuple(input.shape)}")

    def forward(self, input: Tensor) -> Tensor:
        if not self._syncing():
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]  # every axis but the channels
        shape = [1, -1] + [1] * (input.dim() - 2)  # (1, C, 1, ...)
        count = input.new_full((1,), input.numel() // input.shape[1])
        totals = all_reduce(torch.cat([input.sum(dims), count]))  # (C + 1,): sums over all processes
        n = totals[-1]
        mean = totals[:-1] / n  # (C,)
        centred = input - mean.view(shape)
        variance = all_reduce((centred * centred).sum(dims)) / n  # (C,) biased, as BatchNorm normalises
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), variance.detach() * n / (n - 1))
        out = centred * torch.rsqrt(variance + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out

    def _syncing(self) -> bool:
        """Whether this forward normalises by the global batch: training, several processes."""
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return False
        return dist.get_world_size() > 1

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, unbiased_variance: Tensor) -> None:
        """BatchNorm's update: an exponential average at ``momentum``, or cumulative when it is None."""
        # the running statistics exist: this runs only with track_running_stats
        assert self.num_batches_tracked is not None and self.running_mean is not None and self.running_var is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(unbiased_variance, factor)


def _moved(module: nn.modules.batchnorm._BatchNorm, into: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    """``into`` holding ``module``'s parameters and running statistics (the same tensors)."""
    if module.affine:
        into.weight = module.weight
        into.bias = module.bias
    into.running_mean = module.running_mean
    into.running_var = module.running_var
    into.num_batches_tracked = module.num_batches_tracked
    into.train(module.training)
    return into


def _options(module: nn.modules.batchnorm._BatchNorm) -> tuple[int, float, float | None, bool, bool]:
    return module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats


def convert_batch_norm(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm layer replaced by a :class:`GlobalBatchNorm` sharing its parameters
    and running statistics (as :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm` does)."""
    converted = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, (nn.SyncBatchNorm, GlobalBatchNorm)
    ):
        converted = _moved(module, GlobalBatchNorm(*_options(module), original=type(module)))
    for name, child in module.named_children():
        converted.add_module(name, convert_batch_norm(child))
    return converted


def revert_batch_norm(module: nn.Module) -> nn.Module:
    """``module`` with every :class:`GlobalBatchNorm` given back as the BatchNorm class it replaced."""
    converted = module
    if isinstance(module, GlobalBatchNorm):
        converted = _moved(module, module.original(*_options(module)))
    for name, child in module.named_children():
        converted.add_module(name, revert_batch_norm(child))
    return converted


class SyncBatchNormAnyDevice(TorchSyncBatchNorm):
    """Lightning's ``sync_batchnorm`` plugin: :class:`torch.nn.SyncBatchNorm` when the module trains on a
    GPU, :class:`GlobalBatchNorm` on a CPU; ``revert`` (after fit) gives plain BatchNorm layers back."""

    def apply(self, model: nn.Module) -> nn.Module:
        if isinstance(model, L.LightningModule) and model.trainer.strategy.root_device.type != "cpu":
            return super().apply(model)
        return convert_batch_norm(model)

    def revert(self, model: nn.Module) -> nn.Module:
        return super().revert(revert_batch_norm(model))
