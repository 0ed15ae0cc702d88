"""Put FlexConv into any CNN: ``convert(model)`` replaces its ``nn.Conv1d/2d/3d`` layers.

Every selected convolution whose kernel is larger than 1 becomes a continuous-kernel layer
(:class:`~flexconv.nn.FlexConv` by default) with the same channels, stride, padding, dilation, groups,
padding mode and bias, so the converted model gives outputs of the same shapes as the original
(torchvision's ResNets, timm's ConvNeXt, our own models). The kernel grid is the convolution's kernel
size, or ``horizon`` taps: the padding then grows by ``dilation * (horizon - kernel_size) / 2`` per
side, so shapes still match. The new layers start from their own initialisation: the original's
weights are not transferred.

Parameters: a dense continuous kernel costs its kernel network's output layer ``hidden * in * out``
parameters, 3.7x a 3x3 ``nn.Conv2d`` with MAGNet's 32 hidden units (8.66M against 2.36M for one
512->512 layer of ResNet-18). So by default (``separable=None``) every ungrouped convolution becomes a
*separable* layer (a depthwise continuous kernel, then a 1x1 mixing: ``hidden * in + in * out``),
and grouped and depthwise ones keep their groups (their kernel networks are already ``1 / groups`` the
size). Converting ResNet-18 this way costs fewer parameters than the plain network
(tests/nn/test_convert.py measures it); ``separable=False`` gives dense kernels.

Left as they are: 1x1 convolutions (no spatial extent to learn), even kernel sizes (patchify stems and
2x2 downsampling layers, whose grid could not be centred), transposed convolutions, subclasses of the
convolution classes (they may change ``forward``, as timm's ``StdConv2d`` does), and whatever ``include``
rejects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Optional, Union, cast

from torch import nn
from torch.nn.modules.conv import _ConvNd

from flexconv.nn.ckconv import CKConv, FlexConv

Include = Union[str, Callable[[str, nn.Module], bool]]
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _selected(include: Optional[Include], name: str, module: nn.Module) -> bool:
    if include is None:
        return True
    if isinstance(include, str):
        return re.search(include, name) is not None
    return bool(include(name, module))


def convertible(conv: nn.Module) -> bool:
    """Whether :func:`convert` replaces ``conv``: an ``nn.Conv1d/2d/3d`` of odd kernel sizes, one above 1."""
    if type(conv) not in _CONVS:
        return False
    kernel_size = cast(_ConvNd, conv).kernel_size
    return max(kernel_size) > 1 and all(k % 2 for k in kernel_size)


def continuous_counterpart(
    conv: _ConvNd,
    *,
    horizon: Optional[int] = None,
    layer: Callable[..., CKConv] = FlexConv,
    separable: Optional[bool] = None,
    **layer_kwargs: Any,
) -> CKConv:
    """The continuous-kernel layer that replaces ``conv`` (see the module docstring)."""
    data_dim = len(conv.kernel_size)
    grid = tuple(conv.kernel_size) if horizon is None else (horizon,) * data_dim
    if any(n % 2 == 0 or n < k for n, k in zip(grid, conv.kernel_size)):
        raise ValueError(f"horizon must be odd and at least the kernel size {tuple(conv.kernel_size)}, got {horizon}")
    if conv.padding == "same":
        padding: Any = "same"
    else:
        base = (0,) * data_dim if isinstance(conv.padding, str) else conv.padding  # the string left is "valid"
        padding = tuple(p + d * (n - k) // 2 for p, d, n, k in zip(base, conv.dilation, grid, conv.kernel_size))
    weight = conv.weight
    return layer(
        conv.in_channels,
        conv.out_channels,
        data_dim=data_dim,
        horizon=grid,
        causal=False,
        separable=conv.groups == 1 if separable is None else separable,
        stride=tuple(conv.stride),
        padding=padding,
        dilation=tuple(conv.dilation),
        groups=conv.groups,
        padding_mode=conv.padding_mode,
        bias=conv.bias is not None,
        device=weight.device,
        dtype=weight.dtype,
        **layer_kwargs,
    )


def convert(
    model: nn.Module,
    *,
    horizon: Optional[int] = None,
    layer: Callable[..., CKConv] = FlexConv,
    include: Optional[Include] = None,
    separable: Optional[bool] = None,
    **layer_kwargs: Any,
) -> nn.Module:
    """Replace, in place, every convertible convolution of ``model`` by a continuous-kernel layer; returns ``model``.

    horizon: the grid size of every new layer (odd, at least the kernel size); None: each
        convolution's own kernel size.
    layer: the class, e.g. :class:`FlexConv` or :class:`CKConv` (or a ``functools.partial`` of one).
    include: which convolutions to convert: a regular expression searched in the module's name
        (``"layer[34]"``), or a predicate ``(name, module) -> bool``; None: all of them.
    separable: None: separable for ungrouped convolutions (the parameter-efficient default, see the
        module docstring), else as given for every ungrouped one.
    layer_kwargs: passed on to every layer (``kernel_net=``, ``mask=``, ``conv_method=``, ...).
    """
    if isinstance(model, _CONVS):
        raise TypeError(
            "convert() replaces the convolutions inside a model; for one layer use continuous_counterpart()"
        )
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if convertible(module) and _selected(include, name, module)
    ]
    for name, module in targets:
        conv = cast(_ConvNd, module)  # convertible() checked its type
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(
            parent,
            child,
            continuous_counterpart(
                conv, horizon=horizon, layer=layer, separable=separable if conv.groups == 1 else False, **layer_kwargs
            ),
        )
    return model
