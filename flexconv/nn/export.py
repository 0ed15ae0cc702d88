"""Export a trained model to plain PyTorch convolutions.

``export(model)`` returns a copy in which every CKConv/FlexConv is replaced by ordinary layers
holding its materialised, cropped kernel: ``nn.ConvNd`` (for causal or even-sized kernels a
:class:`~flexconv.nn.plain.PaddedConv`: a ``nn.ConstantPadNd`` then the ``nn.ConvNd``), and for
separable layers a depthwise ``nn.ConvNd`` followed by a 1x1 ``nn.ConvNd``; a layer with ``nn.Conv``'s
arguments gets a ``nn.ConvNd`` with its stride, dilation and groups after a :class:`Pad` of its padding
(for the cropped kernel). The result has no kernel network, mask or data-dependent control flow, so it
runs as fast as a hand-written CNN of the same kernel sizes, exports to ONNX and compiles with
``torch.compile``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import cast

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from flexconv.nn.ckconv import CKConv
from flexconv.nn.conv_args import PaddingMode, pad_axes
from flexconv.nn.functional import padding_amounts
from flexconv.nn.plain import PaddedConv, nd_class


class Pad(nn.Module):
    """(B, C, *S) padded by (left, right) per axis in ``mode`` (negative: removed), as
    :func:`flexconv.nn.conv_args.pad_axes`."""

    def __init__(self, pads: list[tuple[int, int]], mode: PaddingMode = "zeros") -> None:
        super().__init__()
        self.pads, self.mode = pads, mode

    def extra_repr(self) -> str:
        return f"pads={self.pads}, mode={self.mode!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pad_axes(x, self.pads, self.mode)


def _plain_conv(kernel: torch.Tensor, bias: torch.Tensor | None, causal: bool, groups: int) -> nn.Module:
    """A ConvNd with weight ``kernel`` (C_out, C_in/groups, *K) and the layer's padding."""
    data_dim = kernel.dim() - 2
    out_channels, in_per_group, *ksize = kernel.shape
    pads = padding_amounts(ksize, causal)
    symmetric = all(left == right for left, right in pads)
    conv = cast("Callable[..., _ConvNd]", nd_class("Conv", data_dim))(
        in_per_group * groups,
        out_channels,
        tuple(ksize),
        groups=groups,
        bias=bias is not None,
        padding=tuple(left for left, _ in pads) if symmetric else 0,
        device=kernel.device,
        dtype=kernel.dtype,
    )
    with torch.no_grad():
        conv.weight.copy_(kernel)
        if bias is not None and conv.bias is not None:  # conv has a bias exactly when bias is given
            conv.bias.copy_(bias)
    return conv if symmetric else PaddedConv(conv, causal)


def _conv_with_arguments(layer: CKConv, kernel: torch.Tensor, bias: torch.Tensor | None, groups: int) -> nn.Module:
    """The ConvNd of ``layer``'s stride, dilation and ``groups`` with weight ``kernel``, after its padding."""
    conv = cast("Callable[..., _ConvNd]", nd_class("Conv", layer.data_dim))(
        kernel.shape[1] * groups,
        kernel.shape[0],
        tuple(kernel.shape[2:]),
        stride=layer.stride,
        dilation=layer.dilation,
        groups=groups,
        bias=bias is not None,
        device=kernel.device,
        dtype=kernel.dtype,
    )
    with torch.no_grad():
        conv.weight.copy_(kernel)
        if bias is not None and conv.bias is not None:  # conv has a bias exactly when bias is given
            conv.bias.copy_(bias)
    return nn.Sequential(Pad(layer.padding_amounts(kernel.shape[2:]), layer.padding_mode), conv)


def export_layer(layer: CKConv) -> nn.Module:
    """Plain-convolution equivalent of one (grid-fixed) continuous-kernel layer."""
    layer.grid_sizes()  # raises for a grid no input has fixed yet: run one forward before export
    with torch.no_grad():
        kernel = layer.make_kernel().detach().clone()
        bias = layer.bias.detach().clone() if layer.bias is not None else None
        if layer.uses_conv_arguments:
            if not layer.separable:
                return _conv_with_arguments(layer, kernel, bias, layer.groups)
            depthwise = _conv_with_arguments(layer, kernel, None, layer.in_channels)
            pointwise = layer.pointwise.detach().view(*layer.pointwise.shape, *([1] * layer.data_dim))
            return nn.Sequential(depthwise, _plain_conv(pointwise.clone(), bias, causal=False, groups=1))
        if not layer.separable:
            return _plain_conv(kernel, bias, layer.causal, groups=1)
        depthwise = _plain_conv(kernel, None, layer.causal, groups=layer.in_channels)
        pointwise = layer.pointwise.detach().view(*layer.pointwise.shape, *([1] * layer.data_dim))
        return nn.Sequential(depthwise, _plain_conv(pointwise.clone(), bias, causal=False, groups=1))


def export(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) with every CKConv/FlexConv replaced by plain convolutions."""
    if isinstance(model, CKConv):
        return export_layer(model).eval()
    exported = copy.deepcopy(model).eval()
    for name, module in list(exported.named_modules()):
        if isinstance(module, CKConv):
            parent_name, _, child = name.rpartition(".")
            parent = exported.get_submodule(parent_name) if parent_name else exported
            setattr(parent, child, export_layer(module))
    return exported
