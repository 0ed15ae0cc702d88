"""flexconv.nn.functional: the FFT path equals the spatial path, and both equal a naive loop.

Every path computes the same cross-correlation (see the module docstring): centred with
``p = (k - 1) // 2`` zeros on the left, causal with ``p = k - 1``. Checked in float64 (relative
error <= 1e-10, gradients included) and float32 (~1e-4) over random shapes: 1D/2D/3D, odd and
even and rectangular kernels, kernels larger than the input, dense and depthwise.
"""

from __future__ import annotations

import functools
import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch._dynamo.backends.common import aot_autograd

from flexconv.nn import functional as Fc

F64_TOL = 1e-10
F32_TOL = 1e-4


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| (in float64)."""
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


@st.composite
def conv_case(draw, data_dim: int):
    """(x shape, kernel shape, causal, groups): small random shapes, kernels may exceed the input."""
    batch = draw(st.integers(1, 2))
    channels_in = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    channels_out = channels_in if depthwise else draw(st.integers(1, 3))
    max_side = {1: 24, 2: 9, 3: 5}[data_dim]
    spatial = tuple(draw(st.integers(1, max_side)) for _ in range(data_dim))
    # Kernels of any parity, rectangular, up to twice the input side + 2 (larger than the input).
    ksize = tuple(draw(st.integers(1, 2 * s + 2)) for s in spatial)
    causal = draw(st.booleans())
    groups = channels_in if depthwise else 1
    kernel_shape = (channels_out, channels_in // groups, *ksize)
    return (batch, channels_in, *spatial), kernel_shape, causal, groups


def _both_paths(x, kernel, bias, causal, groups, save_spectra=False):
    spatial = Fc.spatial_conv(x, kernel, bias, causal=causal, groups=groups)
    fft = Fc.fft_conv(x, kernel, bias, causal=causal, groups=groups, save_spectra=save_spectra)
    return spatial, fft


def _check_equal_with_grads(x_shape, k_shape, causal, groups, dtype, tol, seed, save_spectra=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(x_shape, generator=gen, dtype=dtype).requires_grad_(True)
    kernel = torch.randn(k_shape, generator=gen, dtype=dtype).requires_grad_(True)
    bias = torch.randn(k_shape[0], generator=gen, dtype=dtype).requires_grad_(True)
    spatial, fft = _both_paths(x, kernel, bias, causal, groups, save_spectra)
    assert spatial.shape == fft.shape == (x_shape[0], k_shape[0], *x_shape[2:])
    assert fft.dtype == dtype
    assert rel_error(fft, spatial) <= tol

    grad_out = torch.randn(spatial.shape, generator=gen, dtype=dtype)
    g_spatial = torch.autograd.grad(spatial, (x, kernel, bias), grad_out)
    g_fft = torch.autograd.grad(fft, (x, kernel, bias), grad_out)
    for name, a, b in zip(("input", "kernel"), g_fft, g_spatial):
        assert rel_error(a, b) <= tol, f"gradient wrt {name}"
    # The bias gradient is a plain sum of grad_out, which may cancel to near zero: measure its error
    # against the sum of magnitudes (the sum's own rounding scale), not against its value.
    magnitude = grad_out.abs().sum([d for d in range(grad_out.dim()) if d != 1]).max()
    assert float((g_fft[2] - g_spatial[2]).abs().max() / magnitude) <= tol, "gradient wrt bias"


@pytest.mark.parametrize("data_dim", [1, 2, 3])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_fft_equals_spatial_float64(data_dim, data):
    x_shape, k_shape, causal, groups = data.draw(conv_case(data_dim))
    seed = data.draw(st.integers(0, 2**31 - 1))
    _check_equal_with_grads(x_shape, k_shape, causal, groups, torch.float64, F64_TOL, seed)


@pytest.mark.parametrize("data_dim", [1, 2, 3])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_fft_equals_spatial_float32(data_dim, data):
    x_shape, k_shape, causal, groups = data.draw(conv_case(data_dim))
    seed = data.draw(st.integers(0, 2**31 - 1))
    _check_equal_with_grads(x_shape, k_shape, causal, groups, torch.float32, F32_TOL, seed)


# Deterministic corners that random draws may miss.
@pytest.mark.parametrize(
    "x_shape, k_shape, causal, groups",
    [
        ((2, 3, 10), (4, 3, 4), True, 1),  # even, causal
        ((2, 3, 10), (4, 3, 4), False, 1),  # even, centred: one more zero on the right
        ((1, 2, 5), (2, 2, 31), False, 1),  # kernel 6x the input
        ((1, 2, 5), (2, 2, 31), True, 1),
        ((1, 3, 7, 6), (3, 1, 2, 9), False, 3),  # rectangular, even x odd, depthwise
        ((1, 3, 7, 6), (3, 1, 15, 4), True, 3),
        ((2, 2, 4, 5, 3), (3, 2, 3, 6, 7), False, 1),  # 3D rectangular, larger than the input
        ((1, 1, 1), (1, 1, 1), False, 1),  # degenerate sizes
        ((1, 1, 1, 1), (1, 1, 2, 2), True, 1),
    ],
)
@pytest.mark.parametrize("save_spectra", [False, True])
def test_fft_equals_spatial_corners(x_shape, k_shape, causal, groups, save_spectra):
    _check_equal_with_grads(x_shape, k_shape, causal, groups, torch.float64, F64_TOL, seed=0, save_spectra=save_spectra)


@pytest.mark.parametrize("groups", [1, 3])
def test_fft_empty_batch_with_gradients(groups):
    """B = 0 never reaches the FFT library (which rejects it): empty output, zero kernel and bias gradients."""
    x = torch.randn(0, 3, 10, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(3, 3 // groups, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    out = Fc.fft_conv(x, kernel, bias, causal=True, groups=groups)
    assert out.shape == (0, 3, 10)
    grads = torch.autograd.grad(out.sum(), (x, kernel, bias))
    assert grads[0].shape == x.shape
    assert not grads[1].any() and not grads[2].any()
    with torch.no_grad():
        assert Fc.fft_conv(x, kernel, bias, groups=groups).shape == (0, 3, 10)


def test_fft_without_autograd_equals_with():
    """Inference skips the autograd function; both compute the same convolution."""
    x, kernel = torch.randn(2, 3, 20, 7, dtype=torch.float64), torch.randn(4, 3, 5, 9, dtype=torch.float64)
    with torch.no_grad():
        plain = Fc.fft_conv(x, kernel)
    tracked = Fc.fft_conv(x, kernel.requires_grad_(True))
    assert tracked.grad_fn is not None
    assert rel_error(plain, tracked) <= F64_TOL


# ---------------------------------------------------------------------------------------------
# Independent reference: explicit loops over the definition y[t] = sum_j K[j] x[t + j - p].
def naive_conv(x: torch.Tensor, kernel: torch.Tensor, bias, causal: bool, groups: int = 1) -> torch.Tensor:
    batch, c_in, *spatial = x.shape
    c_out, c_in_g, *ksize = kernel.shape
    lefts = [k - 1 if causal else (k - 1) // 2 for k in ksize]
    out = torch.zeros(batch, c_out, *spatial, dtype=torch.float64)
    out_per_group = c_out // groups
    for b, o in itertools.product(range(batch), range(c_out)):
        g = o // out_per_group
        for t in itertools.product(*(range(s) for s in spatial)):
            total = 0.0
            for i in range(c_in_g):
                ci = g * c_in_g + i
                for j in itertools.product(*(range(k) for k in ksize)):
                    src = [tt + jj - p for tt, jj, p in zip(t, j, lefts)]
                    if all(0 <= s < n for s, n in zip(src, spatial)):
                        total += float(kernel[(o, i, *j)]) * float(x[(b, ci, *src)])
            out[(b, o, *t)] = total + (float(bias[o]) if bias is not None else 0.0)
    return out


@pytest.mark.parametrize(
    "x_shape, k_shape, causal, groups",
    [
        ((2, 2, 7), (3, 2, 3), True, 1),
        ((2, 2, 7), (3, 2, 4), False, 1),
        ((1, 2, 6), (2, 1, 9), False, 2),  # depthwise, kernel larger than the input
        ((1, 2, 5, 4), (2, 2, 3, 2), False, 1),  # rectangular, even axis
        ((1, 2, 4, 5), (2, 1, 3, 3), True, 2),
    ],
)
@pytest.mark.parametrize("path", ["spatial", "fft"])
def test_matches_naive_loop(x_shape, k_shape, causal, groups, path):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(x_shape, generator=gen, dtype=torch.float64)
    kernel = torch.randn(k_shape, generator=gen, dtype=torch.float64)
    bias = torch.randn(k_shape[0], generator=gen, dtype=torch.float64)
    expected = naive_conv(x, kernel, bias, causal, groups)
    fn = Fc.spatial_conv if path == "spatial" else Fc.fft_conv
    assert rel_error(fn(x, kernel, bias, causal=causal, groups=groups), expected) <= F64_TOL


def test_causal_last_tap_is_current_step():
    """Causal: the last tap multiplies x[t], the first one x[t - k + 1]."""
    x = torch.zeros(1, 1, 8, dtype=torch.float64)
    x[..., 3] = 1.0
    kernel = torch.arange(1.0, 5.0, dtype=torch.float64).view(1, 1, 4)  # [1, 2, 3, 4]
    for fn in (Fc.spatial_conv, Fc.fft_conv):
        out = fn(x, kernel, causal=True)[0, 0]
        expected = torch.tensor([0, 0, 0, 4, 3, 2, 1, 0], dtype=torch.float64)
        assert rel_error(out, expected) <= F64_TOL, fn.__name__


def test_padding_and_fft_sizes():
    assert Fc.padding_amounts((5, 4), causal=False) == [(2, 2), (1, 2)]
    assert Fc.padding_amounts((5, 4), causal=True) == [(4, 0), (3, 0)]
    sizes = Fc.fft_sizes((32, 7), (33, 4), causal=False)
    assert sizes[0] >= 32 + 16 and sizes[1] >= 7 + 2
    # Taps farther than S - 1 from the centre never meet the input: a kernel 6x the input needs no more.
    assert Fc.fft_sizes((5,), (31,), causal=False) == Fc.fft_sizes((5,), (9,), causal=False) == [9]
    for n in sizes:  # only factors 2, 3, 5
        for p in (2, 3, 5):
            while n % p == 0:
                n //= p
        assert n == 1


# ---------------------------------------------------------------------------------------------
# conv(): method dispatch and bias.
@pytest.mark.parametrize(
    "x_shape, k_shape, causal, fft",
    [
        # The faster path of a forward+backward pass on a 2-core CPU (benchmarks/layer_speed.py sweep).
        ((64, 24, 32, 32), (24, 24, 33, 33), False, True),
        ((64, 24, 32, 32), (24, 24, 5, 5), False, True),  # FFT 35 ms, spatial 51 ms
        ((64, 24, 32, 32), (24, 24, 3, 3), False, False),  # spatial 23 ms, FFT 34 ms
        ((64, 48, 32, 32), (48, 48, 3, 3), False, False),  # spatial 47 ms, FFT 108 ms
        ((64, 30, 784), (30, 30, 16), True, True),  # FFT 19 ms, spatial 41 ms
        ((64, 30, 784), (30, 30, 4), True, False),  # spatial 13 ms, FFT 20 ms
        ((16, 32, 1460), (32, 32, 8), True, False),  # spatial 8 ms, FFT 16 ms
    ],
)
def test_prefer_fft_cost_model(x_shape, k_shape, causal, fft):
    assert Fc.prefer_fft(x_shape, k_shape, causal=causal) is fft


@pytest.mark.parametrize(
    "x_shape, k_shape, causal, fft",
    [
        # The faster path of a forward+backward pass on an H200 (benchmarks/gpu_check.py sweep, docs/benchmarks.md).
        ((64, 24, 32, 32), (24, 24, 5, 5), False, False),  # spatial 0.46 ms, FFT 1.42 ms (the CPU rule picks FFT)
        ((64, 24, 32, 32), (24, 24, 9, 9), False, False),  # spatial 0.67 ms, FFT 1.28 ms
        ((64, 24, 32, 32), (24, 24, 17, 17), False, True),  # FFT 1.60 ms, spatial 1.83 ms
        ((64, 48, 32, 32), (48, 48, 5, 5), False, False),  # spatial 1.19 ms, FFT 1.49 ms
        ((64, 30, 784), (30, 30, 33), True, False),  # spatial 0.61 ms, FFT 1.28 ms
        ((64, 30, 784), (30, 30, 129), True, True),  # FFT 1.36 ms, spatial 1.55 ms
    ],
)
def test_prefer_fft_cost_model_on_a_cuda_gpu(x_shape, k_shape, causal, fft):
    assert Fc.prefer_fft(x_shape, k_shape, causal=causal, device_type="cuda") is fft


def test_auto_weighs_the_paths_for_the_inputs_device(monkeypatch):
    seen = []
    monkeypatch.setattr(Fc, "prefer_fft", lambda *args: seen.append(args[-1]) or False)
    monkeypatch.setattr(Fc, "spatial_conv", lambda *a, **k: None)
    Fc.conv(torch.empty(2, 3, 8, device="meta"), torch.empty(4, 3, 3, device="meta"), method="auto")
    assert seen == ["meta"]


@pytest.mark.parametrize("ksize, expected", [(33, "fft"), (3, "spatial")])
def test_auto_picks_path(monkeypatch, ksize, expected):
    """conv(method="auto") follows prefer_fft; the paths are stubbed so nothing heavy runs."""
    calls = []
    monkeypatch.setattr(Fc, "fft_conv", lambda *a, **k: calls.append("fft"))
    monkeypatch.setattr(Fc, "spatial_conv", lambda *a, **k: calls.append("spatial"))
    x = torch.empty(64, 24, 32, 32)
    kernel = torch.empty(24, 24, ksize, ksize)
    assert Fc.prefer_fft(x.shape, kernel.shape, False) == (expected == "fft")
    Fc.conv(x, kernel, method="auto")
    assert calls == [expected]
    for method in ("spatial", "fft"):
        calls.clear()
        Fc.conv(x, kernel, method=method)
        assert calls == [method]


@pytest.mark.parametrize("method", ["foo", "FFT", None, ""])
def test_bad_method(method):
    x, kernel = torch.randn(1, 1, 5), torch.randn(1, 1, 3)
    with pytest.raises(ValueError, match="method"):
        Fc.conv(x, kernel, method=method)


@pytest.mark.parametrize("method", ["spatial", "fft", "auto"])
@pytest.mark.parametrize("groups", [1, 3])
def test_bias_added_once(method, groups):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 6, 5, generator=gen, dtype=torch.float64)
    kernel = torch.randn(3, 3 // groups, 3, 4, generator=gen, dtype=torch.float64)
    bias = torch.randn(3, generator=gen, dtype=torch.float64) * 10
    with_bias = Fc.conv(x, kernel, bias, groups=groups, method=method)
    without = Fc.conv(x, kernel, None, groups=groups, method=method)
    assert rel_error(with_bias - without, bias.view(1, 3, 1, 1).expand_as(with_bias)) <= F64_TOL
    # And it is the same bias as nn.functional.conv2d would add.
    ref = naive_conv(x, kernel, bias, causal=False, groups=groups)
    assert rel_error(with_bias, ref) <= F64_TOL


def test_fft_rejects_general_groups():
    x = torch.randn(1, 4, 8)
    kernel = torch.randn(4, 2, 3)  # groups=2, not depthwise
    with pytest.raises(ValueError, match="groups"):
        Fc.fft_conv(x, kernel, groups=2)


def test_half_precision_fft_keeps_dtype():
    x = torch.randn(1, 2, 16).to(torch.bfloat16)
    kernel = torch.randn(2, 2, 5).to(torch.bfloat16)
    out = Fc.fft_conv(x, kernel)
    assert out.dtype == torch.bfloat16
    ref = Fc.spatial_conv(x.double(), kernel.double())
    assert rel_error(out, ref) <= 3e-2
    assert math.isfinite(float(out.float().abs().max()))


# ---------------------------------------------------------------------------------------------
# The FFT convolution as custom operators (flexconv::fft_conv and its backward): what torch.compile sees.
OP_CASES = [  # (x shape, kernel shape, causal, groups)
    ((2, 3, 11), (4, 3, 7), True, 1),
    ((2, 3, 6, 5), (2, 3, 3, 4), False, 1),
    ((2, 3, 9), (3, 1, 5), False, 3),  # depthwise
]


def _op_args(x_shape, k_shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*x_shape, dtype=torch.float64, generator=g, requires_grad=True)
    kernel = torch.randn(*k_shape, dtype=torch.float64, generator=g, requires_grad=True)
    bias = torch.randn(k_shape[0], dtype=torch.float64, generator=g, requires_grad=True)
    return x, kernel, bias


@pytest.mark.parametrize("x_shape, k_shape, causal, groups", OP_CASES)
@pytest.mark.parametrize("save_spectra", [False, True])
def test_fft_conv_gradcheck(x_shape, k_shape, causal, groups, save_spectra):
    """The operator's registered backward is the derivative of its forward (float64 finite differences)."""
    x, kernel, bias = _op_args(x_shape, k_shape)

    def fn(x, kernel, bias):
        return Fc.fft_conv(x, kernel, bias, causal=causal, groups=groups, save_spectra=save_spectra)

    assert torch.autograd.gradcheck(fn, (x, kernel, bias))


@pytest.mark.parametrize("x_shape, k_shape, causal, groups", OP_CASES)
@pytest.mark.parametrize("save_spectra", [False, True])
def test_fft_conv_opcheck(x_shape, k_shape, causal, groups, save_spectra):
    """Schema, fake (meta) implementation, autograd registration and AOT dispatch of both operators."""
    x, kernel, bias = _op_args(x_shape, k_shape)
    torch.library.opcheck(torch.ops.flexconv.fft_conv.default, (x, kernel, bias, causal, groups, save_spectra))
    out, x_spectrum, k_spectrum = torch.ops.flexconv.fft_conv(x, kernel, bias, causal, groups, save_spectra)
    empty = x.new_empty(0)
    saved = (empty, empty, x_spectrum, k_spectrum) if save_spectra else (x, kernel, empty, empty)
    args = (torch.randn_like(out), *saved, list(x.shape), list(kernel.shape), causal, groups, True, True)
    torch.library.opcheck(
        torch.ops.flexconv.fft_conv_backward.default, tuple(a.detach() if torch.is_tensor(a) else a for a in args)
    )


def _squared_conv(x, kernel, bias, **options):
    return Fc.fft_conv(x, kernel, bias, **options).square()


def test_fft_conv_compiles_to_opaque_calls_without_complex_tensors():
    """Under torch.compile(fullgraph=True) forward and backward graphs call the two operators, hold no complex
    tensor, and give eager's output and gradients."""
    graphs = []

    def capture(gm, example_inputs):
        graphs.append(gm)
        return gm

    backend = aot_autograd(fw_compiler=capture, bw_compiler=capture)
    for x_shape, k_shape, causal, groups in OP_CASES:
        for save_spectra in (False, True):
            graphs.clear()
            torch._dynamo.reset()
            x, kernel, bias = _op_args(x_shape, k_shape)
            fn = functools.partial(_squared_conv, causal=causal, groups=groups, save_spectra=save_spectra)

            out = torch.compile(fn, fullgraph=True, backend=backend)(x, kernel, bias)
            grads = torch.autograd.grad(out.sum(), (x, kernel, bias))
            expected = fn(x, kernel, bias)
            expected_grads = torch.autograd.grad(expected.sum(), (x, kernel, bias))
            assert rel_error(out, expected) <= F64_TOL
            for a, b in zip(grads, expected_grads):
                assert rel_error(a, b) <= F64_TOL
            assert len(graphs) == 2  # forward and backward
            targets = [str(node.target) for gm in graphs for node in gm.graph.nodes]
            assert "flexconv.fft_conv.default" in targets and "flexconv.fft_conv_backward.default" in targets
            for gm in graphs:
                for node in gm.graph.nodes:
                    vals = node.meta.get("val")
                    for val in vals if isinstance(vals, (tuple, list)) else [vals]:
                        assert not (torch.is_tensor(val) and val.is_complex()), (node, val)
