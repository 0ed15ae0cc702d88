"""``nn.Conv``'s arguments on continuous-kernel layers: stride, padding, dilation, groups, padding mode.

A layer of grid size ``n`` with these arguments computes ``nn.ConvNd(kernel_size=n, <the arguments>)``
whose weight is its kernel on the whole grid, zero outside the crop window. The cropped kernel (``k``
taps, cropped centred or causally) is applied with the padding shifted by the taps cropped on each
side (:func:`crop_padding`, negative where input is skipped), so cropping changes no output.
*Dilation* ``d`` spreads the grid's taps ``d`` samples apart: the continuous kernel stretched over
``d (n - 1) + 1`` samples, sampled at its ``n`` grid positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import EllipsisType
from typing import Literal, Optional, Union

import torch
import torch.nn.functional as F

from flexconv.nn import functional as Fc

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
Padding = Union[str, int, Sequence[int]]


def per_axis(value: Union[int, Sequence[int]], name: str, data_dim: int, minimum: int) -> tuple[int, ...]:
    """An int or one int per axis, each >= ``minimum``, as a tuple of ``data_dim`` ints."""
    values = (value,) * data_dim if isinstance(value, int) else tuple(value)
    if len(values) != data_dim or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in values):
        raise ValueError(f"{name} must be an int >= {minimum} or {data_dim} of them (one per axis), got {value!r}")
    return values


def check_padding(
    padding: Padding, padding_mode: str, data_dim: int, causal: bool, name: str
) -> Union[str, tuple[int, ...]]:
    """``padding`` checked ("same", "valid", or one int per axis) with ``padding_mode``; causal layers pad their
    past only ("same" or "valid"), with zeros."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid', an int or one int per axis, got {padding!r}")
    else:
        padding = per_axis(padding, "padding", data_dim, 0)
        if causal:
            raise ValueError(
                f"{name}: a causal layer pads its past only: padding 'same' (d (n - 1) steps on the left) or "
                f"'valid'; got padding={padding!r} (use causal=False for padding on both sides)"
            )
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if causal and padding_mode != "zeros":
        raise ValueError(
            f"{name}: a causal layer pads with zeros (before the sequence), got padding_mode={padding_mode!r}"
        )
    return padding


def check_groups(groups: int, in_channels: int, out_channels: int, separable: bool, name: str) -> int:
    """``groups`` checked: a positive int dividing both channel counts, 1 for separable layers."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
    if groups > 1 and separable:
        raise ValueError(f"{name}: separable layers are depthwise then 1x1 already; groups must be 1, got {groups}")
    return groups


def crop_padding(
    grid: Sequence[int],
    kernel_size: Sequence[int],
    padding: Union[str, tuple[int, ...]],
    dilation: Sequence[int],
    causal: bool,
) -> list[tuple[int, int]]:
    """(left, right) padding per axis for the cropped kernel of ``kernel_size`` taps: the whole grid's
    padding ("same": ``d (n - 1)`` split as ``nn.ConvNd`` splits it, all on the left if causal) less the
    taps cropped on each side (negative: input removed)."""
    pads = []
    for axis, (n, k, d) in enumerate(zip(grid, kernel_size, dilation)):
        if padding == "valid":
            left = right = 0
        elif padding == "same":
            left = d * (n - 1) if causal else d * (n - 1) // 2
            right = d * (n - 1) - left
        else:
            assert not isinstance(padding, str)  # validated: "valid", "same" or one int per axis
            left = right = padding[axis]
        cropped_left = n - k if causal else (n - k) // 2  # the crop window is causal or centred
        pads.append((left - d * cropped_left, right - d * (n - k - cropped_left)))
    return pads


def output_size(
    input_size: Sequence[int],
    pads: Sequence[tuple[int, int]],
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    stride: Sequence[int],
) -> tuple[int, ...]:
    """Output steps per axis, as ``nn.ConvNd``'s: ``(S + left + right - d (k - 1) - 1) // stride + 1``."""
    return tuple(
        (s + left + right - d * (k - 1) - 1) // step + 1
        for s, (left, right), k, d, step in zip(input_size, pads, kernel_size, dilation, stride)
    )


def pad_axes(x: torch.Tensor, pads: Sequence[tuple[int, int]], mode: PaddingMode = "zeros") -> torch.Tensor:
    """Pad the spatial axes of ``x`` (B, C, *S) by (left, right) per axis in ``mode``; a negative amount
    removes that many entries from that side instead."""
    if all(left == right == 0 for left, right in pads):
        return x
    grow = [(max(left, 0), max(right, 0)) for left, right in pads]
    if any(left or right for left, right in grow):
        x = F.pad(x, Fc.flat_pad(grow)) if mode == "zeros" else F.pad(x, Fc.flat_pad(grow), mode=mode)
    crop = tuple(slice(max(-left, 0), x.shape[2 + d] - max(-right, 0)) for d, (left, right) in enumerate(pads))
    index: tuple[EllipsisType | slice, ...] = (Ellipsis, *crop)
    return x[index]


def dilate(kernel: torch.Tensor, dilation: Sequence[int]) -> torch.Tensor:
    """``kernel`` (C_out, C_in/g, *K) with ``d - 1`` zeros between neighbouring taps along each axis:
    (C_out, C_in/g, *(d (K - 1) + 1))."""
    if all(d == 1 for d in dilation):
        return kernel
    sizes = [d * (k - 1) + 1 for d, k in zip(dilation, kernel.shape[2:])]
    out = kernel.new_zeros(*kernel.shape[:2], *sizes)
    taps: tuple[EllipsisType | slice, ...] = (Ellipsis, *(slice(None, None, d) for d in dilation))
    out[taps] = kernel
    return out


def conv_padded(
    x: torch.Tensor,
    kernel: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    *,
    pads: Sequence[tuple[int, int]],
    padding_mode: PaddingMode = "zeros",
    stride: Optional[Sequence[int]] = None,
    dilation: Optional[Sequence[int]] = None,
    groups: int = 1,
    method: Fc.ConvMethod = "auto",
) -> torch.Tensor:
    """``nn.ConvNd``'s convolution with explicit padding: x (B, C_in, *S), kernel (C_out, C_in / groups, *K).

    pads: (left, right) per axis, padded in ``padding_mode`` (negative: entries removed); stride,
    dilation: one int per axis (None: 1). Output size per axis: :func:`output_size`.

    The FFT path ("fft", or "auto" when :func:`flexconv.nn.functional.prefer_fft` prefers it) computes stride-1
    convolutions with groups 1 or depthwise (on the dilated kernel); a strided convolution or any other grouping
    always runs as torch's direct convolution with that stride, so no output is computed only to be
    dropped.
    """
    if method not in ("auto", "spatial", "fft"):
        raise ValueError(f"conv method must be 'auto', 'spatial' or 'fft', got {method!r}")
    data_dim = kernel.dim() - 2
    stride, dilation = list(stride or [1] * data_dim), list(dilation or [1] * data_dim)
    x = pad_axes(x, pads, padding_mode)
    depthwise = groups == x.shape[1] == kernel.shape[0] and kernel.shape[1] == 1
    fft_ok = all(s == 1 for s in stride) and (groups == 1 or depthwise) and x.shape[0] > 0
    if fft_ok and method != "spatial":
        dilated = dilate(kernel, dilation)
        if method == "fft" or Fc.prefer_fft(x.shape, dilated.shape, True, groups, x.device.type):
            # A causal convolution of the padded input; its outputs from k - 1 on are the unpadded ("valid") ones.
            out = Fc.fft_conv(x, dilated, bias, causal=True, groups=groups)
            valid: tuple[EllipsisType | slice, ...] = (Ellipsis, *(slice(k - 1, None) for k in dilated.shape[2:]))
            return out[valid]
    conv: Callable[..., torch.Tensor] = getattr(F, f"conv{data_dim}d")
    return conv(x, kernel, bias, stride=stride, dilation=dilation, groups=groups)
