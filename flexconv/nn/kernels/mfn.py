"""Multiplicative filter networks: FourierNet, GaborNet and MAGNet.

Fathony et al. 2021 (MFN, "Multiplicative Filter Networks") and Romero et al. 2022 (FlexConv,
arXiv 2110.08059, MAGNet = Multiplicative Anisotropic Gabor Network). With L = ``num_layers``
and width H::

    h_0 = g_0(x),   h_l = g_l(x) * (A_l h_{l-1} + c_l)  (l = 1..L),   out = W_out h_L + b_out

Filters ``g_l``: Fourier ``sin(W x + b)``; Gabor ``exp(-1/2 sum_d (gamma (x_d - mu_d))^2) sin(W x + b)``
with one gamma per unit (isotropic); MAGNet the same with one gamma per unit *and axis*
(anisotropic), optionally *steerable* (the offset ``x - mu`` rotated by ``2 pi theta`` in 2D).
Because the frequencies of these filters are known analytically, :meth:`frequency_bounds`
gives the bounds that the anti-aliasing regulariser keeps under the Nyquist frequency.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Optional, cast

import torch
from torch import nn
from torch.types import Device

from flexconv.nn.kernels.base import KernelNet, register_kernel_net


class FourierFilter(nn.Module):
    """g(x) = sin(W x + b). x: (N, D) -> (N, H)."""

    def __init__(
        self,
        data_dim: int,
        hidden_channels: int,
        input_scale: float,
        *,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(data_dim, hidden_channels, device=device, dtype=dtype)
        with torch.no_grad():
            self.linear.weight.mul_(input_scale)
            self.linear.bias.uniform_(-math.pi, math.pi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.linear(x))


class GaborFilter(nn.Module):
    """Gaussian envelope times a sine. x: (N, D) -> (N, H).

    ``anisotropic``: one gamma per unit and axis (MAGNet) instead of one per unit (GaborNet).
    ``steerable`` (2D, anisotropic only): the offset ``x - mu`` is rotated by ``2 pi theta``.
    Initialisation (FlexConv paper): gamma ~ Gamma(alpha, beta), mu ~ U(-1, 1),
    b ~ U(-pi, pi), W = PyTorch's default init * input_scale * gamma (per axis).
    """

    def __init__(
        self,
        data_dim: int,
        hidden_channels: int,
        input_scale: float,
        alpha: float,
        beta: float,
        *,
        anisotropic: bool,
        steerable: bool = False,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        if steerable and (data_dim != 2 or not anisotropic):
            raise ValueError("steerable Gabor filters are defined for anisotropic 2D kernels only")
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.linear = nn.Linear(data_dim, hidden_channels, **factory)
        self.mu = nn.Parameter(torch.empty(hidden_channels, data_dim, **factory).uniform_(-1.0, 1.0))
        gamma_shape = (hidden_channels, data_dim if anisotropic else 1)
        gamma = torch.distributions.Gamma(torch.tensor(float(alpha)), torch.tensor(float(beta))).sample(gamma_shape)
        self.gamma = nn.Parameter(gamma.to(**factory))
        self.theta = nn.Parameter(torch.rand(hidden_channels, **factory)) if steerable else None
        with torch.no_grad():
            self.linear.weight.mul_(input_scale * self.gamma)
            self.linear.bias.uniform_(-math.pi, math.pi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = x.unsqueeze(1) - self.mu  # (N, H, D)
        if self.theta is not None:
            angle = 2 * math.pi * self.theta  # (H,)
            cos, sin = torch.cos(angle), torch.sin(angle)
            offset = torch.stack(
                (cos * offset[..., 0] + sin * offset[..., 1], -sin * offset[..., 0] + cos * offset[..., 1]), dim=-1
            )
        envelope = torch.exp(-0.5 * (self.gamma * offset).square().sum(-1))  # (N, H)
        return envelope * torch.sin(self.linear(x))


class MultiplicativeFilterNet(KernelNet):
    """Shared structure of FourierNet, GaborNet and MAGNet (see the module docstring).

    ``make_filter(layer, input_scale)`` builds filter ``layer`` (0..L) of width H, where
    ``input_scale`` is the network's input scale divided by sqrt(L+1). Hidden maps A_l are
    initialised U(-sqrt(1/H), sqrt(1/H)). Parameters are drawn in a fixed order (hidden maps,
    output map, then the filters), which seeded runs and the reference tests rely on.
    """

    def __init__(
        self,
        data_dim: int,
        out_channels: int,
        *,
        hidden_channels: int,
        num_layers: int,
        input_scale: float,
        make_filter: Callable[[int, float], nn.Module],
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(data_dim, out_channels)
        if num_layers < 1 or hidden_channels < 1:
            raise ValueError(f"need num_layers >= 1 and hidden_channels >= 1, got {num_layers}, {hidden_channels}")
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.hidden = nn.ModuleList(nn.Linear(hidden_channels, hidden_channels, **factory) for _ in range(num_layers))
        bound = math.sqrt(1.0 / hidden_channels)
        with torch.no_grad():
            for linear in self.hidden:
                cast(nn.Linear, linear).weight.uniform_(-bound, bound)
        self.output = nn.Linear(hidden_channels, out_channels, **factory)
        scale = input_scale / math.sqrt(num_layers + 1)
        self.filters = nn.ModuleList(make_filter(layer, scale) for layer in range(num_layers + 1))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """positions (D, *S) -> kernel (out_channels, *S)."""
        x = self.flatten_positions(positions)  # (N, D)
        h = self.filters[0](x)  # (N, H)
        for gate, linear in zip(self.filters[1:], self.hidden):
            h = gate(x) * linear(h)
        return self.linear_output(self.output, h, positions.shape[1:])

    def frequency_bounds(self, gauss_stddevs: float = 2.0) -> Optional[torch.Tensor]:
        """Frequency bound of each filter (num_layers + 1,), in cycles per unit length.

        Sine part ``max |W| / 2 pi`` plus Gaussian part ``max |gamma| * gauss_stddevs / 2 pi``:
        the largest sine frequency and the widest spectrum of the envelope (its Fourier transform
        is a Gaussian of std gamma), each maximised over units and axes, as in the original
        anti-aliasing code (which is how its reference values were computed).
        """
        bounds = []
        for f in self.filters:
            bound = cast(nn.Linear, f.linear).weight.abs().amax() / (2 * math.pi)
            if isinstance(f, GaborFilter):
                bound = bound + f.gamma.abs().amax() * gauss_stddevs / (2 * math.pi)
            bounds.append(bound)
        return torch.stack(bounds)

    def init_spatial_extent(self, extent: float) -> None:
        """Gabor filters: Gaussian centres re-drawn in [-extent, extent]; sine filters have none."""
        with torch.no_grad():
            for f in self.filters:
                if isinstance(f, GaborFilter):
                    f.mu.uniform_(-extent, extent)


@register_kernel_net
class FourierNet(MultiplicativeFilterNet):
    """MFN with sine filters (Fathony et al. 2021). ``input_scale`` is divided by sqrt(L+1)."""

    def __init__(
        self,
        data_dim: int,
        out_channels: int,
        *,
        hidden_channels: int = 32,
        num_layers: int = 3,
        input_scale: float = 25.6,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        def make_filter(layer: int, scale: float) -> nn.Module:
            return FourierFilter(data_dim, hidden_channels, scale, device=device, dtype=dtype)

        super().__init__(
            data_dim,
            out_channels,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            input_scale=input_scale,
            make_filter=make_filter,
            device=device,
            dtype=dtype,
        )


@register_kernel_net
class GaborNet(MultiplicativeFilterNet):
    """MFN with isotropic Gabor filters; every filter's gamma ~ Gamma(alpha / (L+1), beta)."""

    def __init__(
        self,
        data_dim: int,
        out_channels: int,
        *,
        hidden_channels: int = 32,
        num_layers: int = 3,
        input_scale: float = 25.6,
        alpha: float = 6.0,
        beta: float = 1.0,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        def make_filter(layer: int, scale: float) -> nn.Module:
            return GaborFilter(
                data_dim,
                hidden_channels,
                scale,
                alpha / (num_layers + 1),
                beta,
                anisotropic=False,
                device=device,
                dtype=dtype,
            )

        super().__init__(
            data_dim,
            out_channels,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            input_scale=input_scale,
            make_filter=make_filter,
            device=device,
            dtype=dtype,
        )


@register_kernel_net
class MAGNet(MultiplicativeFilterNet):
    """Multiplicative Anisotropic Gabor Network (FlexConv paper, Sec. 3.2).

    Filter l has gamma ~ Gamma(alpha / (l+1), beta) per unit and axis, so deeper filters start
    wider (lower frequency). ``steerable`` rotates each Gaussian (2D only).
    """

    def __init__(
        self,
        data_dim: int,
        out_channels: int,
        *,
        hidden_channels: int = 32,
        num_layers: int = 3,
        input_scale: float = 25.6,
        alpha: float = 6.0,
        beta: float = 1.0,
        steerable: bool = False,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        def make_filter(layer: int, scale: float) -> nn.Module:
            return GaborFilter(
                data_dim,
                hidden_channels,
                scale,
                alpha / (layer + 1),
                beta,
                anisotropic=True,
                steerable=steerable,
                device=device,
                dtype=dtype,
            )

        super().__init__(
            data_dim,
            out_channels,
            hidden_channels=hidden_channels,
            num_layers=num_layers,
            input_scale=input_scale,
            make_filter=make_filter,
            device=device,
            dtype=dtype,
        )
