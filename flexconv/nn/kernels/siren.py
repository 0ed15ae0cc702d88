"""SIREN kernel network (Sitzmann et al. 2020), as used by CKConv (Romero et al. 2022).

``num_layers`` linear maps in all: the first and ``num_layers - 2`` hidden ones are sine layers
``sin(omega_0 (W x + b))``; the last is a plain linear output. Initialisation as in CKConv:
first layer W ~ U(-1/D, 1/D), the others W ~ U(-sqrt(6/fan_in)/omega_0, +...), biases keep
PyTorch's default.
"""

from __future__ import annotations

import math
from typing import Any, Optional, cast

import torch
from torch import nn
from torch.types import Device

from flexconv.nn.kernels.base import KernelNet, register_kernel_net


class SineLayer(nn.Linear):
    """y = sin(omega_0 * (W x + b)); omega_0 a buffer, or a parameter when learned."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        omega_0: float,
        learn_omega_0: bool,
        *,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(in_features, out_features, device=device, dtype=dtype)
        omega = torch.full((1,), float(omega_0), device=device, dtype=dtype)
        if learn_omega_0:
            self.omega_0 = nn.Parameter(omega)
        else:
            self.register_buffer("omega_0", omega)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega_0 * super().forward(x))


@register_kernel_net
class SIREN(KernelNet):
    """Sine-activated MLP kernel network. positions (D, *S) -> (out_channels, *S)."""

    def __init__(
        self,
        data_dim: int,
        out_channels: int,
        *,
        hidden_channels: int = 32,
        num_layers: int = 3,
        omega_0: float = 30.0,
        learn_omega_0: bool = False,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(data_dim, out_channels)
        if num_layers < 2:
            raise ValueError(f"SIREN needs num_layers >= 2 (input and output maps), got {num_layers}")
        if omega_0 <= 0:
            raise ValueError(f"SIREN needs omega_0 > 0, got {omega_0}")
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        widths = [data_dim] + [hidden_channels] * (num_layers - 1)
        self.layers = nn.ModuleList(
            SineLayer(w_in, w_out, omega_0, learn_omega_0, **factory) for w_in, w_out in zip(widths[:-1], widths[1:])
        )
        self.output = nn.Linear(hidden_channels, out_channels, **factory)
        with torch.no_grad():
            cast(SineLayer, self.layers[0]).weight.uniform_(-1.0 / data_dim, 1.0 / data_dim)
            for linear in [*self.layers[1:], self.output]:
                bound = math.sqrt(6.0 / linear.in_features) / omega_0
                linear.weight.uniform_(-bound, bound)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        h = self.flatten_positions(positions)  # (N, D)
        for layer in self.layers:
            h = layer(h)  # (N, H)
        return self.linear_output(self.output, h, positions.shape[1:])
