"""Which convolution a network uses, as data: FlexConv, CKConv or a plain convolution.

:class:`ConvConfig` holds the layer's own argument names (see flexconv.nn); :func:`conv_factory`
turns it into a ``factory(in_channels, out_channels) -> nn.Module``, so networks never unpack
kernel options themselves. Adding a kernel option touches only this file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from torch import nn

from flexconv.nn import CKConv, FlexConv, GaussianMask, kernel_net_class
from flexconv.nn.functional import padding_amounts

ConvFactory = Callable[[int, int], nn.Module]

CONV_TYPES = ("FlexConv", "CKConv", "Conv")


@dataclass
class ConvConfig:
    """Convolution used throughout a network.

    type: "FlexConv", "CKConv" or "Conv" (a plain ``nn.ConvNd`` of ``kernel_size``).
    horizon: continuous layers' grid size (odd int, "same" or "full").
    kernel_net: kernel network name ("MAGNet", "Gabor", "Fourier", "SIREN", "MLP").
    kernel_hidden_channels, kernel_num_layers: kernel network width and depth.
    kernel_options: other keyword arguments of the kernel network (e.g. input_scale,
        omega_0, learn_omega_0, steerable).
    mask_init_width, mask_threshold, mask_dynamic_cropping, mask_lr_factor: GaussianMask.
    conv_method: "auto", "spatial" or "fft".
    separable: depthwise continuous kernels + 1x1 mixing.
    causal: None = causal for 1D data, centred otherwise.
    kernel_size: plain convolutions' size.
    bias: layer bias.
    """

    type: str = "FlexConv"
    horizon: Union[int, str] = 33
    kernel_net: str = "MAGNet"
    kernel_hidden_channels: int = 32
    kernel_num_layers: int = 3
    kernel_options: dict[str, Any] = field(default_factory=dict)
    mask_init_width: float = 0.075
    mask_threshold: float = 0.1
    mask_dynamic_cropping: bool = True
    mask_lr_factor: float = 0.1
    conv_method: str = "auto"
    separable: bool = False
    causal: Optional[bool] = None
    kernel_size: int = 3
    bias: bool = True


class CausalConv(nn.Sequential):
    """A plain convolution with the padding of the continuous layers (causal or centred "same")."""

    def __init__(self, conv: nn.Module, causal: bool) -> None:
        pads = padding_amounts(conv.kernel_size, causal)
        flat = [a for pair in reversed(pads) for a in pair]
        pad = (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)[len(pads) - 1](flat, 0.0)
        super().__init__(pad, conv)


def conv_factory(cfg: ConvConfig, data_dim: int) -> ConvFactory:
    """factory(in_channels, out_channels) building the configured convolution."""
    causal = data_dim == 1 if cfg.causal is None else cfg.causal
    if cfg.type == "Conv":
        conv_cls = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[data_dim - 1]

        def plain(in_channels: int, out_channels: int) -> nn.Module:
            return CausalConv(conv_cls(in_channels, out_channels, cfg.kernel_size, bias=cfg.bias), causal)

        return plain
    if cfg.type not in CONV_TYPES:
        raise ValueError(f"unknown conv type {cfg.type!r}; known: {list(CONV_TYPES)}")
    kernel_net = functools.partial(
        kernel_net_class(cfg.kernel_net),
        hidden_channels=cfg.kernel_hidden_channels,
        num_layers=cfg.kernel_num_layers,
        **cfg.kernel_options,
    )
    common = dict(
        data_dim=data_dim, horizon=cfg.horizon, kernel_net=kernel_net, causal=causal,
        separable=cfg.separable, bias=cfg.bias, conv_method=cfg.conv_method,
    )
    if cfg.type == "CKConv":
        return functools.partial(CKConv, **common)
    mask = functools.partial(
        GaussianMask,
        init_width=cfg.mask_init_width,
        threshold=cfg.mask_threshold,
        dynamic_cropping=cfg.mask_dynamic_cropping,
        lr_factor=cfg.mask_lr_factor,
    )
    return functools.partial(FlexConv, mask=mask, **common)
