"""Export a trained model to plain PyTorch convolutions.

``export(model)`` returns a copy in which every CKConv/FlexConv is replaced by ordinary layers
holding its materialised, cropped kernel: ``nn.ConvNd`` (with a ``nn.ConstantPadNd`` in front
for causal or even-sized kernels), and for separable layers a depthwise ``nn.ConvNd`` followed by
a 1x1 ``nn.ConvNd``. The result has no kernel network, mask or data-dependent control flow, so it
runs as fast as a hand-written CNN of the same kernel sizes, exports to ONNX and compiles with
``torch.compile``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from flexconv.nn.ckconv import CKConv
from flexconv.nn.functional import padding_amounts

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_PAD = (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)


def _plain_conv(kernel: torch.Tensor, bias: torch.Tensor | None, causal: bool, groups: int) -> nn.Module:
    """A ConvNd with weight ``kernel`` (C_out, C_in/groups, *K) and the layer's padding."""
    data_dim = kernel.dim() - 2
    out_channels, in_per_group, *ksize = kernel.shape
    pads = padding_amounts(ksize, causal)
    symmetric = all(left == right for left, right in pads)
    conv = _CONV[data_dim - 1](
        in_per_group * groups, out_channels, tuple(ksize), groups=groups, bias=bias is not None,
        padding=tuple(left for left, _ in pads) if symmetric else 0,
        device=kernel.device, dtype=kernel.dtype,
    )
    with torch.no_grad():
        conv.weight.copy_(kernel)
        if bias is not None:
            conv.bias.copy_(bias)
    if symmetric:
        return conv
    flat = [amount for pair in reversed(pads) for amount in pair]
    return nn.Sequential(_PAD[data_dim - 1](flat, 0.0), conv)


def export_layer(layer: CKConv) -> nn.Module:
    """Plain-convolution equivalent of one (grid-fixed) continuous-kernel layer."""
    if layer._grid is None and not bool((layer.grid_size > 0).all()):
        raise RuntimeError(
            f"{type(layer).__name__} with horizon {layer.horizon!r} has no grid yet: run one forward before export"
        )
    with torch.no_grad():
        kernel = layer.make_kernel().detach().clone()
        bias = layer.bias.detach().clone() if layer.bias is not None else None
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
