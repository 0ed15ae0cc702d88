"""Issue 9, items 1-7: inputs and states a user reaches easily get a result or one clear error.

Each test here failed before its fix (even "same" grids, tiny or NaN mask parameters, empty
batches, dtype mismatches, kernel networks by name, the eval cache and mask settings, the
anti-aliasing gradient at large excesses).
"""

from __future__ import annotations

import functools

import pytest
import torch

from flexconv.nn import SIREN, CKConv, FlexConv, FourierNet, GaborNet, GaussianMask, MAGNet
from flexconv.nn import functional as Fc
from flexconv.nn.antialias import AntiAliasing, _penalty
from flexconv.nn.grid import relative_positions


def full_kernel_zeroed_outside_window(layer: FlexConv) -> torch.Tensor:
    """The layer's kernel sampled on the whole grid, zero outside its crop window: (out, in, *grid)."""
    grid = layer.grid_sizes()
    positions = relative_positions(grid, dtype=torch.float64)  # (D, *grid)
    window = layer.mask.crop_window([torch.linspace(-1.0, 1.0, n, dtype=torch.float64) for n in grid])
    with torch.no_grad():
        full = layer.kernel_net(positions) * layer.kernel_scale * layer.mask(positions)
    full = full.view(layer.out_channels, layer.in_channels, *grid)
    zeroed = torch.zeros_like(full)
    index = (slice(None), slice(None), *window)
    zeroed[index] = full[index]
    return zeroed


# ---------------------------------------------------------------------------------------------
# 1. horizon="same" on even sizes: the centred crop of an even grid keeps its two central taps.
@pytest.mark.parametrize(
    "data_dim, causal, size", [(2, False, 2), (2, False, 4), (2, False, 6), (3, False, 4), (1, False, 6), (1, True, 6)]
)
@pytest.mark.parametrize("method", ["spatial", "fft"])
def test_same_horizon_on_even_input(data_dim, causal, size, method):
    torch.manual_seed(0)
    layer = FlexConv(2, 3, data_dim=data_dim, horizon="same", causal=causal, conv_method=method, dtype=torch.float64)
    x = torch.randn(2, 2, *(size,) * data_dim, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (2, 3, *(size,) * data_dim)
    assert layer.grid_sizes() == (size,) * data_dim  # the grid stays the input's size (spec §1)
    ksize = layer.effective_kernel_size()
    if causal:  # the most recent taps, at least the current step
        assert 1 <= ksize[0] <= size
    else:  # the initial mask keeps at least 3 taps (min_taps), symmetric on an even grid: 4 (or all 2)
        assert ksize == (min(4, size),) * data_dim
    # Cropping stays exact: the same as the whole-grid kernel zeroed outside the window.
    expected = Fc.spatial_conv(x.detach(), full_kernel_zeroed_outside_window(layer), layer.bias.detach(), causal=causal)
    assert torch.allclose(out.detach(), expected, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    assert torch.isfinite(layer.mask.width.grad).all() and torch.isfinite(x.grad).all()


def test_even_grid_keeps_every_tap_inside_the_window():
    # A wider mask on an even grid keeps all taps in (-r, r), symmetrically (not just the central two).
    mask = GaussianMask(1, init_width=0.2)
    axis = torch.linspace(-1.0, 1.0, 10)
    (window,) = mask.crop_window([axis])
    root = 0.2 * (-2 * torch.log(torch.tensor(0.1))).sqrt()
    assert window == slice(3, 7)
    assert (axis[window].abs() < root).all() and (axis[2].abs() >= root)


# ---------------------------------------------------------------------------------------------
# 2. Tiny widths give a one-tap kernel; NaN/inf means are the diverged-training error.
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_causal_tiny_width_keeps_the_current_step(dtype):
    torch.manual_seed(0)
    layer = FlexConv(2, 3, data_dim=1, horizon=9, dtype=dtype)
    with torch.no_grad():
        layer.mask.width.fill_(1e-8)
    x = torch.randn(2, 2, 8, dtype=dtype)
    out = layer(x)
    assert layer.effective_kernel_size() == (1,)
    # One tap at position +1 (mask value 1 there): a pointwise channel mixing.
    tap = layer.make_kernel()[..., 0]  # (out, in)
    expected = torch.einsum("oi,bit->bot", tap, x) + layer.bias.view(1, -1, 1)
    assert torch.allclose(out, expected)


def test_centred_tiny_width_keeps_the_centre():
    layer = FlexConv(2, 3, data_dim=2, horizon=9)
    with torch.no_grad():
        layer.mask.width.fill_(1e-8)
    assert layer(torch.randn(1, 2, 8, 8)).shape == (1, 3, 8, 8)
    assert layer.effective_kernel_size() == (1, 1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("data_dim", [1, 2])
@pytest.mark.parametrize("cropping", [True, False])
def test_diverged_mask_mean_raises_at_forward(bad, data_dim, cropping):
    layer = FlexConv(
        2, 3, data_dim=data_dim, horizon=9, mask=functools.partial(GaussianMask, dynamic_cropping=cropping)
    )
    with torch.no_grad():
        layer.mask.mean[0] = bad
    with pytest.raises(FloatingPointError, match=f"learned mean became {bad}; training diverged"):
        layer(torch.randn(1, 2, *(8,) * data_dim))


# ---------------------------------------------------------------------------------------------
# 3. Empty batches, on every path, with autograd.
@pytest.mark.parametrize("method", ["spatial", "fft", "auto"])
@pytest.mark.parametrize("data_dim", [1, 2])
@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("kind", [FlexConv, CKConv])
def test_empty_batch(method, data_dim, separable, kind, monkeypatch):
    def no_fft(*args, **kwargs):
        raise AssertionError("an empty batch reached an FFT (MKL rejects those)")

    for name in ("rfftn", "irfftn", "fftn", "ifftn"):
        monkeypatch.setattr(torch.fft, name, no_fft)
    layer = kind(2, 3, data_dim=data_dim, horizon=9, conv_method=method, separable=separable, dtype=torch.float64)
    x = torch.randn(0, 2, *(8,) * data_dim, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (0, 3, *(8,) * data_dim)
    assert out.dtype == torch.float64 and out.device == x.device
    out.sum().backward()
    assert x.grad.shape == x.shape
    layer.eval()
    with torch.no_grad():
        assert layer(x).shape == (0, 3, *(8,) * data_dim)


# ---------------------------------------------------------------------------------------------
# 4. Input dtype vs parameter dtype: one clear error, or autocast as for nn.Conv2d.
@pytest.mark.parametrize("method", ["spatial", "fft"])
@pytest.mark.parametrize(
    "layer_dtype, input_dtype",
    [
        (torch.float32, torch.float64),
        (torch.float32, torch.float16),
        (torch.float64, torch.float32),
        (torch.float32, torch.bfloat16),
    ],
)
def test_dtype_mismatch_is_one_clear_error(method, layer_dtype, input_dtype):
    layer = FlexConv(2, 3, data_dim=2, horizon=9, conv_method=method, dtype=layer_dtype)
    with pytest.raises(TypeError, match=f"dtype {input_dtype} but its parameters are {layer_dtype}"):
        layer(torch.randn(1, 2, 8, 8).to(input_dtype))


@pytest.mark.parametrize("method", ["spatial", "fft"])
@pytest.mark.parametrize("input_dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", [FlexConv, CKConv])
def test_autocast_follows_nn_conv(method, input_dtype, kind):
    torch.manual_seed(0)
    layer = kind(2, 3, data_dim=2, horizon=9, conv_method=method)
    x = torch.randn(2, 2, 8, 8)
    reference = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x.to(input_dtype))
        conv_dtype = torch.nn.Conv2d(2, 3, 3)(x.to(input_dtype)).dtype
    assert out.dtype == conv_dtype == torch.bfloat16
    assert float((out.float() - reference).detach().abs().max()) < 0.05 * float(reference.detach().abs().max())
    out.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)


def test_autocast_does_not_cast_float64():
    layer = FlexConv(2, 3, data_dim=2, horizon=9)
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(TypeError, match="torch.float64"):
        layer(torch.randn(1, 2, 8, 8, dtype=torch.float64))
    double = FlexConv(2, 3, data_dim=2, horizon=9, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert double(torch.randn(1, 2, 8, 8, dtype=torch.float64)).dtype == torch.float64


def test_cache_keyed_on_autocast():
    # A kernel cached under autocast (bfloat16 for CKConv) must not be reused outside it.
    torch.manual_seed(0)
    layer = CKConv(2, 3, data_dim=2, horizon=9, conv_method="spatial").eval()
    x = torch.randn(1, 2, 8, 8)
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert layer(x).dtype == torch.bfloat16
        out = layer(x)
        assert out.dtype == torch.float32
        assert torch.equal(out, Fc.spatial_conv(x, layer.make_kernel(), layer.bias))


# ---------------------------------------------------------------------------------------------
# 5. Kernel networks and masks by registered name.
@pytest.mark.parametrize(
    "name, cls", [("MAGNet", MAGNet), ("GaborNet", GaborNet), ("FourierNet", FourierNet), ("SIREN", SIREN)]
)
def test_kernel_net_by_name(name, cls):
    torch.manual_seed(0)
    by_name = FlexConv(2, 3, data_dim=2, horizon=9, kernel_net=name, mask="GaussianMask")
    torch.manual_seed(0)
    by_class = FlexConv(2, 3, data_dim=2, horizon=9, kernel_net=cls, mask=GaussianMask)
    assert type(by_name.kernel_net) is cls and type(by_name.mask) is GaussianMask
    assert all(torch.equal(a, b) for a, b in zip(by_name.state_dict().values(), by_class.state_dict().values()))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown kernel network 'Magnet'; known: \[.*'MAGNet'"):
        FlexConv(2, 3, data_dim=2, horizon=9, kernel_net="Magnet")
    with pytest.raises(ValueError, match=r"unknown mask 'sigmoid'; known: \[.*'GaussianMask'"):
        FlexConv(2, 3, data_dim=2, horizon=9, mask="sigmoid")
    with pytest.raises(TypeError, match="kernel_net must be a class"):
        FlexConv(2, 3, data_dim=2, horizon=9, kernel_net=3)


# ---------------------------------------------------------------------------------------------
# 6. The eval cache follows the mask's threshold and cropping switch.
@pytest.mark.parametrize("setting, value", [("threshold", 0.5), ("dynamic_cropping", False)])
def test_cache_follows_mask_settings(setting, value):
    torch.manual_seed(0)
    layer = FlexConv(2, 3, data_dim=2, horizon=9, mask=functools.partial(GaussianMask, init_width=0.3)).eval()
    x = torch.randn(1, 2, 8, 8)
    with torch.no_grad():
        before = layer(x)
        size_before = layer.kernel().shape
        setattr(layer.mask, setting, value)
        after = layer(x)
        assert layer.kernel().shape != size_before
        assert torch.equal(layer.kernel(), layer.make_kernel())
        assert torch.equal(after, Fc.conv(x, layer.make_kernel(), layer.bias))
        assert not torch.allclose(after, before)


# ---------------------------------------------------------------------------------------------
# 7. offset_elu: finite gradients however large the excess.
@pytest.mark.parametrize("method", ["together", "summed"])
def test_offset_elu_gradient_finite_at_large_excess(method):
    torch.manual_seed(0)
    layer = FlexConv(2, 3, data_dim=2, horizon=9, dtype=torch.float64)
    with torch.no_grad():
        layer.mask.width.fill_(1e-4)  # mask frequency ~3000: excess far beyond exp's range (~710 in float64)
    regulariser = AntiAliasing(target="gabor+mask", method=method, fn="offset_elu")
    value = regulariser([layer])
    value.backward()
    assert torch.isfinite(value)
    for name, p in layer.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    # Above the offset the penalty is linear: d value / d excess = factor * 5 per element.
    excess = regulariser.layer_excess(layer).detach().requires_grad_()
    (grad,) = torch.autograd.grad(_penalty(excess, "offset_elu"), excess)
    assert torch.equal(grad, torch.full_like(excess, 5.0))
