"""MLP kernel network (the CKConv baseline): Linear -> norm -> activation, ..., Linear."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import torch
from torch import nn
from torch.types import Device

from flexconv.nn.kernels.base import KernelNet, register_kernel_net

_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda width: nn.Identity(),
    "layer": nn.LayerNorm,
    # Positions play the role of the batch: statistics over the kernel grid.
    "batch": nn.BatchNorm1d,
}


@register_kernel_net
class MLP(KernelNet):
    """``num_layers`` linear maps with ``norm`` ("batch", "layer" or "none") and ``activation``.

    positions (D, *S) -> (out_channels, *S).
    """

    def __init__(
        self,
        data_dim: int,
        out_channels: int,
        *,
        hidden_channels: int = 32,
        num_layers: int = 3,
        norm: str = "batch",
        activation: Callable[[], nn.Module] = nn.ReLU,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(data_dim, out_channels)
        if norm not in _NORMS:
            raise ValueError(f"MLP norm must be one of {sorted(_NORMS)}, got {norm!r}")
        if num_layers < 2:
            raise ValueError(f"MLP needs num_layers >= 2, got {num_layers}")
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        widths = [data_dim] + [hidden_channels] * (num_layers - 1)
        body: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            norm_layer = _NORMS[norm](w_out)
            body += [nn.Linear(w_in, w_out, **factory), norm_layer.to(**factory), activation()]
        self.body = nn.Sequential(*body)
        self.output = nn.Linear(hidden_channels, out_channels, **factory)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        h = self.body(self.flatten_positions(positions))  # (N, H)
        return self.linear_output(self.output, h, positions.shape[1:])
