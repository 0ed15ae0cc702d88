"""Convolutions with a given kernel: spatial and FFT paths, causal and centred, any N-D.

These functions are the "apply the kernel" half of a continuous-kernel layer (the
"make the kernel" half lives in the kernel networks and masks). Every path computes
the same cross-correlation (PyTorch's ``conv`` convention):

* **centred** ("same" padding): ``y[t] = sum_j K[j] * x[t + j - p]`` per axis with
  ``p = (k - 1) // 2`` zeros on the left and ``k // 2`` on the right, so the output has the
  input's size (for odd ``k`` the padding is symmetric, as in the FlexConv paper's 2D layers).
* **causal** (1D sequences): ``p = k - 1`` zeros on the left only, so the last kernel tap
  (relative position +1) multiplies the current time step and no output sees the future.

``conv`` picks the FFT path when the cost model in :func:`prefer_fft` says it is cheaper;
the constant in that model comes from ``benchmarks/conv_paths.py`` run on a 2-core CPU
(see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F

ConvMethod = Literal["auto", "spatial", "fft"]

# FFT-path cost relative to a spatial-convolution FLOP, from benchmarks/conv_paths.py:
# the FFT path is taken when  FFT_COST_FACTOR * fft_flops < spatial_flops.
FFT_COST_FACTOR = 10.0


def padding_amounts(kernel_size: Sequence[int], causal: bool) -> list[tuple[int, int]]:
    """Zeros to add (left, right) per spatial axis so that the output keeps the input's size."""
    if causal:
        return [(k - 1, 0) for k in kernel_size]
    return [((k - 1) // 2, k // 2) for k in kernel_size]


def _flat_pad(pads: Sequence[tuple[int, int]]) -> list[int]:
    """``F.pad`` wants the last axis first: [(l0, r0), (l1, r1)] -> [l1, r1, l0, r0]."""
    return [amount for pair in reversed(pads) for amount in pair]


def _conv_fn(data_dim: int):
    try:
        return (F.conv1d, F.conv2d, F.conv3d)[data_dim - 1]
    except IndexError:
        raise ValueError(f"spatial convolution supports 1 to 3 spatial axes, got {data_dim}") from None


def spatial_conv(
    x: torch.Tensor,
    kernel: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    *,
    causal: bool = False,
    groups: int = 1,
) -> torch.Tensor:
    """Direct convolution. x: (B, C_in, *S), kernel: (C_out, C_in / groups, *K) -> (B, C_out, *S)."""
    pads = padding_amounts(kernel.shape[2:], causal)
    if any(left != right for left, right in pads):
        x = F.pad(x, _flat_pad(pads))
        padding: int | list[int] = 0
    else:
        padding = [left for left, _ in pads]
    return _conv_fn(kernel.dim() - 2)(x, kernel, bias, padding=padding, groups=groups)


def _fast_fft_size(n: int) -> int:
    """Smallest m >= n whose only prime factors are 2, 3 and 5 (fast for pocketfft/cuFFT)."""
    m = n
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def fft_sizes(input_size: Sequence[int], kernel_size: Sequence[int], causal: bool) -> list[int]:
    """Per-axis FFT length with no wrap-around reaching the kept outputs.

    With ``p`` left zeros the circular correlation is exact on the first ``S`` outputs as soon as
    the length is at least ``S + max(p, k - 1 - p)``: smaller than the usual ``S + k - 1``
    for centred kernels.
    """
    pads = padding_amounts(kernel_size, causal)
    return [_fast_fft_size(s + max(left, right)) for s, (left, right) in zip(input_size, pads)]


def fft_conv(
    x: torch.Tensor,
    kernel: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    *,
    causal: bool = False,
    groups: int = 1,
) -> torch.Tensor:
    """Convolution through the FFT; same result as :func:`spatial_conv` (up to rounding).

    x: (B, C_in, *S), kernel: (C_out, C_in / groups, *K) -> (B, C_out, *S). ``groups`` is 1
    (dense) or C_in == C_out (depthwise).
    """
    data_dim = kernel.dim() - 2
    spatial = x.shape[2:]
    out_dtype = torch.promote_types(x.dtype, kernel.dtype)
    if out_dtype in (torch.float16, torch.bfloat16):  # FFTs of half types are not generally supported
        x, kernel = x.float(), kernel.float()
    axes = tuple(range(2, 2 + data_dim))
    pads = padding_amounts(kernel.shape[2:], causal)
    sizes = fft_sizes(spatial, kernel.shape[2:], causal)

    # x is shifted right by the left padding so that output t reads x[t + j - p] at tap j.
    x_pads = [(left, n - s - left) for (left, _), n, s in zip(pads, sizes, spatial)]
    x_f = torch.fft.rfftn(F.pad(x, _flat_pad(x_pads)), dim=axes)  # (B, C_in, *F)
    k_f = torch.fft.rfftn(kernel, s=sizes, dim=axes).conj()  # (C_out, C_in/g, *F)

    if groups == 1:
        # Channel mixing per frequency; one flat frequency axis keeps einsum on a single batched matmul.
        out_f = torch.einsum("bif,oif->bof", x_f.flatten(2), k_f.flatten(2)).view(x_f.shape[0], -1, *x_f.shape[2:])
    elif groups == x.shape[1] == kernel.shape[0] and kernel.shape[1] == 1:
        out_f = x_f * k_f[:, 0]
    else:
        raise ValueError(f"fft_conv supports groups=1 or depthwise, got groups={groups}")

    out = torch.fft.irfftn(out_f, s=sizes, dim=axes)
    out = out[(Ellipsis, *(slice(0, s) for s in spatial))]
    if bias is not None:
        out = out + bias.view(1, -1, *([1] * data_dim))
    return out.to(out_dtype)


def prefer_fft(
    input_shape: Sequence[int],
    kernel_shape: Sequence[int],
    causal: bool,
    groups: int = 1,
) -> bool:
    """Cost model for :func:`conv` with ``method="auto"``: True when the FFT path is cheaper.

    spatial ~ 2 B C_in C_out prod(S) prod(K) / groups multiply-adds; FFT ~ transforms of input,
    kernel and output (5 n log2 n each) plus the complex channel mixing over the rFFT grid.
    """
    batch, c_in = input_shape[0], input_shape[1]
    c_out = kernel_shape[0]
    spatial, ksize = input_shape[2:], kernel_shape[2:]
    spatial_flops = 2.0 * batch * c_in * c_out * math.prod(spatial) * math.prod(ksize) / groups
    sizes = fft_sizes(spatial, ksize, causal)
    n = math.prod(sizes)
    n_half = math.prod(sizes[:-1]) * (sizes[-1] // 2 + 1)
    transforms = 5.0 * n * math.log2(max(n, 2)) * (batch * c_in + c_out * c_in / groups + batch * c_out)
    mixing = 8.0 * batch * c_in * c_out * n_half / groups
    return FFT_COST_FACTOR * (transforms + mixing) < spatial_flops


def conv(
    x: torch.Tensor,
    kernel: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    *,
    causal: bool = False,
    groups: int = 1,
    method: ConvMethod = "auto",
) -> torch.Tensor:
    """Convolve ``x`` (B, C_in, *S) with ``kernel`` (C_out, C_in / groups, *K) -> (B, C_out, *S).

    method: "spatial", "fft", or "auto" (the cheaper one by :func:`prefer_fft`).
    """
    if method == "auto":
        use_fft = prefer_fft(x.shape, kernel.shape, causal, groups)
    elif method in ("spatial", "fft"):
        use_fft = method == "fft"
    else:
        raise ValueError(f"conv method must be 'auto', 'spatial' or 'fft', got {method!r}")
    if use_fft:
        return fft_conv(x, kernel, bias, causal=causal, groups=groups)
    return spatial_conv(x, kernel, bias, causal=causal, groups=groups)
