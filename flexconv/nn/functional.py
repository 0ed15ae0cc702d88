"""Convolutions with a given kernel: spatial and FFT paths, causal and centred, any N-D.

These functions are the "apply the kernel" half of a continuous-kernel layer (the
"make the kernel" half lives in the kernel networks and masks). Every path computes
the same cross-correlation (PyTorch's ``conv`` convention):

* **centred** ("same" padding): ``y[t] = sum_j K[j] * x[t + j - p]`` per axis with
  ``p = (k - 1) // 2`` zeros on the left and ``k // 2`` on the right, so the output has the
  input's size (for odd ``k`` the padding is symmetric, as in the FlexConv paper's 2D layers).
* **causal** (1D sequences): ``p = k - 1`` zeros on the left only, so the last kernel tap
  (relative position +1) multiplies the current time step and no output sees the future.

``nn.Conv``'s arguments (any padding, stride, dilation, groups) are applied by
:func:`flexconv.nn.conv_args.conv_padded`, which calls these.

``conv`` picks the FFT path when the cost model in :func:`prefer_fft` says it is cheaper;
the constant in that model comes from the sweep of ``benchmarks/layer_speed.py`` on a 2-core CPU
(see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F

ConvMethod = Literal["auto", "spatial", "fft"]

# FFT-path cost relative to a spatial-convolution FLOP, fitted on forward+backward passes (training) in
# the sweep of benchmarks/layer_speed.py: the FFT path is taken when  FFT_COST_FACTOR * fft_flops <
# spatial_flops. Measured break-even values lie between 2.0 (1D, 30 channels, 8 taps) and 4.2 (2D,
# 24 channels, 5x5); below 2.0 spatial is faster in every measured case (2D 48 channels 3x3: 2.3x).
FFT_COST_FACTOR = 2.5
# The same on a CUDA GPU, from the sweep of benchmarks/gpu_check.py on an H200 (docs/benchmarks.md, gpu block):
# cuDNN's spatial convolutions are faster there up to FLOP ratios of 13.7 (2D, 24 channels, 9x9) and 7.5 (1D
# causal, 30 channels, 33 taps), the FFT path from 26 (1D causal, 129 taps) and 39 (2D, 17x17) on.
FFT_COST_FACTOR_CUDA = 20.0

# Default of fft_conv's ``save_spectra``: store the input and kernel spectra for the backward, or
# recompute them. None = by size: store while the input spectrum takes at most SAVE_SPECTRA_MAX_BYTES.
# Measured on a 2-core CPU (docs/benchmarks.md): storing saves one FFT of the input and one of the
# kernel per backward, about 15 % of a training step, for FlexTCN-6 on sMNIST (784 steps, batch 64:
# spectra of 6-12 MB per layer, +90 MiB per step) and for FlexNet-7 at full masks (15-30 MB per
# layer, but +260 MiB per step, 26 %); at 16,000 steps it would add 3 GB. The budget keeps the first
# and recomputes the other two.
SAVE_SPECTRA: Optional[bool] = None
SAVE_SPECTRA_MAX_BYTES = 12 * 2**20


def padding_amounts(kernel_size: Sequence[int], causal: bool) -> list[tuple[int, int]]:
    """Zeros to add (left, right) per spatial axis so that the output keeps the input's size."""
    if causal:
        return [(k - 1, 0) for k in kernel_size]
    return [((k - 1) // 2, k // 2) for k in kernel_size]


def flat_pad(pads: Sequence[tuple[int, int]]) -> list[int]:
    """``F.pad`` wants the last axis first: [(l0, r0), (l1, r1)] -> [l1, r1, l0, r0]."""
    return [amount for pair in reversed(pads) for amount in pair]


def _conv_fn(data_dim: int) -> Callable[..., torch.Tensor]:
    try:
        return (F.conv1d, F.conv2d, F.conv3d)[data_dim - 1]
    except IndexError:
        raise ValueError(f"spatial convolution supports 1 to 3 spatial axes, got {data_dim}") from None


def spatial_conv(
    x: torch.Tensor, kernel: torch.Tensor, bias: Optional[torch.Tensor] = None, *, causal: bool = False, groups: int = 1
) -> torch.Tensor:
    """Direct convolution. x: (B, C_in, *S), kernel: (C_out, C_in / groups, *K) -> (B, C_out, *S)."""
    pads = padding_amounts(kernel.shape[2:], causal)
    if any(left != right for left, right in pads):
        x = F.pad(x, flat_pad(pads))
        padding: int | list[int] = 0
    else:
        padding = [left for left, _ in pads]
    out: torch.Tensor = _conv_fn(kernel.dim() - 2)(x, kernel, bias, padding=padding, groups=groups)
    return out


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
    for centred kernels. Taps more than ``S - 1`` away from the centre never meet the input,
    so the reach is capped at ``S - 1``.
    """
    pads = padding_amounts(kernel_size, causal)
    return [_fast_fft_size(s + min(max(left, right), s - 1)) for s, (left, right) in zip(input_size, pads)]


def _crop(t: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """The first ``sizes`` entries of the trailing axes of ``t`` (a view)."""
    return t[(Ellipsis,) + tuple(slice(0, s) for s in sizes)]


class _FFTPlan:
    """Sizes and layouts of one FFT convolution; its methods are the steps of forward and backward.

    The input is zero-padded on the right only; the kernel, which is small, is rolled instead so that
    its tap at relative position 0 sits at index 0. Taps that never meet the input (more than ``S - 1``
    from the centre) are dropped first. Dense convolutions mix channels in a frequency-major layout,
    (F, B, C) with F the flattened rFFT grid, so one ``bmm`` does every frequency's (B, C_in) @ (C_in,
    C_out) product; the kernel spectrum is kept as (F, C_out, C_in), whose conjugate transpose the BLAS
    reads in place. The FFT library writes the transformed axis innermost, so a (B, C, *F) spectrum
    reaches (F, B, C) through one 2D transpose (B C, F) -> (F, B C), about half the time of the 3D
    permute; the inverse of an (F, B, C) spectrum over its leading axes writes (B, C, *S) by itself.
    Depthwise convolutions multiply elementwise in (B, C, *F).
    """

    def __init__(self, input_shape: Sequence[int], kernel_shape: Sequence[int], causal: bool, groups: int) -> None:
        if groups == 1:
            self.depthwise = False
        elif groups == input_shape[1] == kernel_shape[0] and kernel_shape[1] == 1:
            self.depthwise = True
        else:
            raise ValueError(f"fft_conv supports groups=1 or depthwise, got groups={groups}")
        self.data_dim = len(kernel_shape) - 2
        self.axes = tuple(range(2, 2 + self.data_dim))
        self.input_shape = tuple(input_shape)
        self.kernel_shape = tuple(kernel_shape)
        spatial = self.input_shape[2:]
        self.sizes = fft_sizes(spatial, self.kernel_shape[2:], causal)
        self.freq_shape = [*self.sizes[:-1], self.sizes[-1] // 2 + 1]
        # Kept taps [lo, hi) per axis and the kept kernel's left padding.
        self.taps: list[tuple[int, int]] = []
        self.lefts: list[int] = []
        for s, k, (left, _) in zip(spatial, self.kernel_shape[2:], padding_amounts(self.kernel_shape[2:], causal)):
            lo, hi = max(0, left - (s - 1)), min(k, left + s)
            self.taps.append((lo, hi))
            self.lefts.append(left - lo)

    def spectrum_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Shapes of the input and kernel spectra: ((F, B, C_in), (F, C_out, C_in)) or ((B, C, *F), (C, *F))."""
        (batch, c_in), c_out = self.input_shape[:2], self.kernel_shape[0]
        if self.depthwise:
            return (batch, c_in, *self.freq_shape), (c_in, *self.freq_shape)
        n_freq = math.prod(self.freq_shape)
        return (n_freq, batch, c_in), (n_freq, c_out, c_in)

    @staticmethod
    def _frequency_major(t_f: torch.Tensor) -> torch.Tensor:
        """(P, Q, *F) -> (F, P, Q) contiguous, through a 2D transpose."""
        rows, cols = t_f.shape[0] * t_f.shape[1], math.prod(t_f.shape[2:])
        return t_f.reshape(rows, cols).t().contiguous().view(cols, *t_f.shape[:2])

    def input_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, *S) -> (F, B, C) dense, (B, C, *F) depthwise."""
        # Padding first: rfftn(s=...) pads through a path about 3x slower than the transform itself.
        padded = F.pad(x, flat_pad([(0, n - s) for n, s in zip(self.sizes, self.input_shape[2:])]))
        x_f: torch.Tensor = torch.fft.rfftn(padded, dim=self.axes)
        return x_f if self.depthwise else self._frequency_major(x_f)

    def kernel_spectrum(self, kernel: torch.Tensor) -> torch.Tensor:
        """(C_out, C_in/g, *K) -> (F, C_out, C_in) dense, (C, *F) depthwise.

        The kept taps are written straight into their rolled places of a zero (C_out, C_in/g, *n)
        buffer (tap ``left`` at index 0, earlier taps wrapped to the end), one copy per axis part.
        """
        kept = kernel[(Ellipsis,) + tuple(slice(lo, hi) for lo, hi in self.taps)]
        rolled = kept.new_zeros(*kept.shape[:2], *self.sizes)
        for parts in itertools.product(*([(0, left), (left, k)] for left, k in zip(self.lefts, kept.shape[2:]))):
            if all(lo < hi for lo, hi in parts):
                src = tuple(slice(lo, hi) for lo, hi in parts)
                dst = tuple(
                    slice((lo - left) % n, (lo - left) % n + hi - lo)
                    for (lo, hi), left, n in zip(parts, self.lefts, self.sizes)
                )
                rolled[(Ellipsis,) + dst] = kept[(Ellipsis,) + src]
        k_f: torch.Tensor = torch.fft.rfftn(rolled, dim=self.axes)
        return k_f[:, 0] if self.depthwise else self._frequency_major(k_f)

    def kernel_grad(self, grad_f: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`kernel_spectrum`: (F, C_out, C_in) or (C, *F) -> (C_out, C_in/g, *K)."""
        if self.depthwise:
            grad_f = grad_f.unsqueeze(1)
        else:
            grad_f = grad_f.flatten(1).t().reshape(*self.kernel_shape[:2], *self.freq_shape)
        grad = torch.fft.irfftn(grad_f, s=self.sizes, dim=self.axes)
        kept = _crop(torch.roll(grad, self.lefts, self.axes), [hi - lo for lo, hi in self.taps])
        return F.pad(kept, flat_pad([(lo, k - hi) for (lo, hi), k in zip(self.taps, self.kernel_shape[2:])]))

    def mix(self, a_f: torch.Tensor, b_f: torch.Tensor) -> torch.Tensor:
        """Per-frequency product: (F, B, C_in) @ (F, C_in, C_out), or elementwise (depthwise)."""
        return a_f * b_f if self.depthwise else torch.bmm(a_f, b_f)

    def output(self, out_f: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        """Spectrum (F, B, C) or (B, C, *F) -> signal (B, C, *S) (a fresh tensor, not a view) + bias.

        The inverse runs one axis at a time, keeping after each only the S entries the output needs,
        so that the following transforms skip the padding: the Fashion-MNIST FlexNets' training
        steps take 0.89-0.93x the time they took with one ``irfftn`` over the whole padded grid (one
        CPU thread, batch 64). A dense spectrum is transformed over its leading axes, (*F, B, C).
        """
        axes = self.axes if self.depthwise else tuple(range(self.data_dim))
        if not self.depthwise:
            out_f = out_f.view(*self.freq_shape, *out_f.shape[1:])
        spatial = self.input_shape[2:]
        for axis, size in zip(axes[:-1], spatial[:-1]):
            out_f = torch.fft.ifft(out_f, dim=axis).narrow(axis, 0, size)
        out: torch.Tensor = torch.fft.irfft(out_f, n=self.sizes[-1], dim=axes[-1]).narrow(axes[-1], 0, spatial[-1])
        if not self.depthwise:
            out = out.permute(-2, -1, *range(self.data_dim))  # (*S, B, C) -> (B, C, *S)
        if bias is None:
            return out.contiguous()
        # Into a contiguous tensor: out + bias would keep the layout of a strided result.
        return torch.add(out, bias.view(1, -1, *([1] * self.data_dim)), out=out.new_empty(out.shape))


@torch.library.custom_op("flexconv::fft_conv", mutates_args=())
def _fft_conv_op(
    x: torch.Tensor, kernel: torch.Tensor, bias: Optional[torch.Tensor], causal: bool, groups: int, save_spectra: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The convolution (a cross-correlation: the kernel spectrum enters conjugated) and, with ``save_spectra``,
    the input and kernel spectra as real views ``(..., 2)`` (else empty: an operator returns no None). One
    operator, so that ``torch.compile`` sees an opaque call, not complex tensors, and traces the backward as
    :func:`_fft_conv_backward_op`."""
    plan = _FFTPlan(x.shape, kernel.shape, causal, groups)
    if x.shape[0] == 0:  # FFT libraries reject empty batches
        out = x.new_zeros(0, kernel.shape[0], *x.shape[2:])
        return out if bias is None else out + bias.view(1, -1, *([1] * plan.data_dim)), x.new_empty(0), x.new_empty(0)
    x_f, k_f = plan.input_spectrum(x), plan.kernel_spectrum(kernel)
    out = plan.output(plan.mix(x_f, k_f.conj_physical() if plan.depthwise else k_f.transpose(1, 2).conj()), bias)
    if not save_spectra:
        return out, x.new_empty(0), x.new_empty(0)
    return out, torch.view_as_real(x_f), torch.view_as_real(k_f)


@_fft_conv_op.register_fake
def _fft_conv_fake(
    x: torch.Tensor, kernel: torch.Tensor, bias: Optional[torch.Tensor], causal: bool, groups: int, save_spectra: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    plan = _FFTPlan(x.shape, kernel.shape, causal, groups)
    dtype = torch.promote_types(x.dtype, kernel.dtype)
    out = x.new_empty(x.shape[0], kernel.shape[0], *x.shape[2:], dtype=dtype)
    if not save_spectra or x.shape[0] == 0:
        return out, x.new_empty(0), x.new_empty(0)
    x_shape, k_shape = plan.spectrum_shapes()
    return out, x.new_empty(*x_shape, 2, dtype=dtype), x.new_empty(*k_shape, 2, dtype=dtype)


@torch.library.custom_op("flexconv::fft_conv_backward", mutates_args=())
def _fft_conv_backward_op(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    kernel: torch.Tensor,
    x_spectrum: torch.Tensor,
    k_spectrum: torch.Tensor,
    input_shape: list[int],
    kernel_shape: list[int],
    causal: bool,
    groups: int,
    need_x: bool,
    need_k: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients (input, kernel) of :func:`_fft_conv_op` (zeros where not needed), from either ``x`` and
    ``kernel`` (spectra empty: recomputed) or the saved spectra (``x``, ``kernel`` empty).

    With X, K, G the spectra of the input, the rolled kernel and the output gradient:
    dx = irfft(G K) (the adjoint of a correlation is a convolution) and dkernel = un-roll(irfft(sum_b X conj(G))),
    written as G^H X (the kernel spectrum's (F, C_out, C_in) layout) so that no conjugate of a batch-sized
    spectrum is ever materialised (the BLAS reads G^H in place). No conjugate is left as a lazy flag on a
    tensor that anything but ``bmm`` reads: compiled graphs run operators with that flag's resolution off.
    """
    plan = _FFTPlan(input_shape, kernel_shape, causal, groups)
    if input_shape[0] == 0:  # FFT libraries reject empty batches
        return grad_out.new_zeros(input_shape), grad_out.new_zeros(kernel_shape)
    g_f = plan.input_spectrum(grad_out)  # (F, B, C_out) or (B, C_out, *F)
    if need_x:
        k_f = plan.kernel_spectrum(kernel) if k_spectrum.numel() == 0 else torch.view_as_complex(k_spectrum)
        grad_x = plan.output(plan.mix(g_f, k_f), None)
    else:
        grad_x = grad_out.new_zeros(input_shape)
    if need_k:
        x_f = plan.input_spectrum(x) if x_spectrum.numel() == 0 else torch.view_as_complex(x_spectrum)
        if plan.depthwise:
            grad_k_f = (x_f * g_f.conj_physical()).sum(0)  # (C, *F)
        else:
            grad_k_f = torch.bmm(g_f.transpose(1, 2).conj(), x_f)  # (F, C_out, C_in)
        grad_k = plan.kernel_grad(grad_k_f)
    else:
        grad_k = grad_out.new_zeros(kernel_shape)
    return grad_x, grad_k


@_fft_conv_backward_op.register_fake
def _fft_conv_backward_fake(grad_out: torch.Tensor, *args: Any) -> tuple[torch.Tensor, torch.Tensor]:
    input_shape, kernel_shape = args[4], args[5]
    return grad_out.new_empty(input_shape), grad_out.new_empty(kernel_shape)


def _fft_conv_setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[torch.Tensor, ...]) -> None:
    """Keeps ``x`` and ``kernel`` (spectra recomputed in the backward) or, with ``save_spectra``, the two spectra."""
    x, kernel, bias, causal, groups, _ = inputs
    _, x_spectrum, k_spectrum = output
    ctx.spectra = x_spectrum.numel() > 0
    ctx.save_for_backward(*((x_spectrum, k_spectrum) if ctx.spectra else (x, kernel)))
    ctx.conv = (list(x.shape), list(kernel.shape), causal, groups, bias is not None)
    ctx.mark_non_differentiable(x_spectrum, k_spectrum)
    ctx.set_materialize_grads(False)  # no zero gradients for the spectra


def _fft_conv_backward(ctx: Any, grad_out: Optional[torch.Tensor], *_: Any) -> tuple[Optional[torch.Tensor], ...]:
    if grad_out is None:  # gradients are not materialised: None where the output had none
        return None, None, None, None, None, None
    input_shape, kernel_shape, causal, groups, has_bias = ctx.conv
    need_x, need_k, need_b = ctx.needs_input_grad[:3]
    empty = [grad_out.new_empty(0)] * 2
    x, kernel, x_spectrum, k_spectrum = [*empty, *ctx.saved_tensors] if ctx.spectra else [*ctx.saved_tensors, *empty]
    grad_x = grad_k = None
    if need_x or need_k:
        grad_x, grad_k = _fft_conv_backward_op(
            grad_out, x, kernel, x_spectrum, k_spectrum, input_shape, kernel_shape, causal, groups, need_x, need_k
        )
    grad_bias = grad_out.sum([0, *range(2, grad_out.dim())]) if has_bias and need_b else None
    return grad_x if need_x else None, grad_k if need_k else None, grad_bias, None, None, None


_fft_conv_op.register_autograd(_fft_conv_backward, setup_context=_fft_conv_setup_context)


def save_spectra_by_size(x: torch.Tensor, plan: _FFTPlan) -> bool:
    """The default of ``save_spectra`` (:data:`SAVE_SPECTRA` None): store while the input spectrum
    takes at most :data:`SAVE_SPECTRA_MAX_BYTES`."""
    spectrum_bytes = 2 * x.element_size() * x.shape[0] * x.shape[1] * math.prod(plan.freq_shape)
    return spectrum_bytes <= SAVE_SPECTRA_MAX_BYTES


def fft_conv(
    x: torch.Tensor,
    kernel: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    *,
    causal: bool = False,
    groups: int = 1,
    save_spectra: Optional[bool] = None,
) -> torch.Tensor:
    """Convolution through the FFT; same result as :func:`spatial_conv` (up to rounding).

    x: (B, C_in, *S), kernel: (C_out, C_in / groups, *K) -> (B, C_out, *S). ``groups`` is 1
    (dense) or C_in == C_out (depthwise).

    save_spectra: keep the input and kernel spectra for the backward instead of recomputing them
        (one FFT of each less per backward, about twice the input's memory more per layer; see
        ``docs/benchmarks.md`` for the measured trade-off). Only matters when gradients are taken.
        None: the module default :data:`SAVE_SPECTRA`, which is how layers and models choose it
        (itself None by default: store spectra up to :data:`SAVE_SPECTRA_MAX_BYTES`).
    """
    out_dtype = torch.promote_types(x.dtype, kernel.dtype)
    if out_dtype in (torch.float16, torch.bfloat16):  # FFTs of half types are not generally supported
        x, kernel = x.float(), kernel.float()
        bias = bias.float() if bias is not None else None
    plan = _FFTPlan(x.shape, kernel.shape, causal, groups)
    tensors = (x, kernel) if bias is None else (x, kernel, bias)
    store = False
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        if save_spectra is None:
            save_spectra = save_spectra_by_size(x, plan) if SAVE_SPECTRA is None else SAVE_SPECTRA
        store = save_spectra
    out: torch.Tensor = _fft_conv_op(x, kernel, bias, causal, groups, store)[0]
    return out.to(out_dtype)


def prefer_fft(
    input_shape: Sequence[int], kernel_shape: Sequence[int], causal: bool, groups: int = 1, device_type: str = "cpu"
) -> bool:
    """Cost model for :func:`conv` with ``method="auto"``: True when the FFT path is cheaper.

    spatial ~ 2 B C_in C_out prod(S) prod(K) / groups multiply-adds; FFT ~ transforms of input,
    kernel and output (5 n log2 n each) plus the complex channel mixing over the rFFT grid, weighted by
    :data:`FFT_COST_FACTOR_CUDA` on ``device_type`` "cuda", else by :data:`FFT_COST_FACTOR`.
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
    factor = FFT_COST_FACTOR_CUDA if device_type == "cuda" else FFT_COST_FACTOR
    return factor * (transforms + mixing) < spatial_flops


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
        use_fft = prefer_fft(x.shape, kernel.shape, causal, groups, x.device.type)
    elif method in ("spatial", "fft"):
        use_fft = method == "fft"
    else:
        raise ValueError(f"conv method must be 'auto', 'spatial' or 'fft', got {method!r}")
    if use_fft:
        return fft_conv(x, kernel, bias, causal=causal, groups=groups)
    return spatial_conv(x, kernel, bias, causal=causal, groups=groups)
