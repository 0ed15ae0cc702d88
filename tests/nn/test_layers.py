"""CKConv / FlexConv layers: causality, shapes, cropping, the kernel cache, hints, grids, errors, init."""

from __future__ import annotations

import copy
import functools
import io
import math

import pytest
import torch

from flexconv.nn import (
    CKConv,
    FlexConv,
    GaborNet,
    GaussianMask,
    MAGNet,
    named_hints,
    kernel_net_class,
    param_groups,
)
from flexconv.nn import functional as Fc
from flexconv.nn.ckconv import SPATIAL_EXTENT_PER_WIDTH
from flexconv.nn.grid import relative_positions

LAYERS = {"FlexConv": FlexConv, "CKConv": CKConv}
WIDE_MASK = functools.partial(GaussianMask, init_width=10.0)  # no cropping: the whole grid


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def make(kind: str, *args, mask=None, **kwargs):
    if kind == "FlexConv":
        return FlexConv(*args, mask=mask or GaussianMask, **kwargs)
    return CKConv(*args, **kwargs)


def grid_axes(layer, dtype=torch.float64):
    return [torch.linspace(-1.0, 1.0, n, dtype=dtype) for n in layer.grid_sizes()]


# ---------------------------------------------------------------------------------------------
# Causality (1D).
@pytest.mark.parametrize("kind, mask", [("FlexConv", None), ("FlexConv", WIDE_MASK), ("CKConv", None)])
@pytest.mark.parametrize("method", ["spatial", "fft"])
def test_causal_1d_never_sees_the_future(kind, mask, method):
    torch.manual_seed(0)
    layer = make(kind, 2, 3, data_dim=1, horizon=31, conv_method=method, mask=mask).double()
    assert layer.causal
    x = torch.randn(2, 2, 20, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    for t in (0, 4, 11, 18):
        (grad,) = torch.autograd.grad(out[..., t].sum(), x, retain_graph=True)
        past, future = grad[..., : t + 1], grad[..., t + 1 :]
        assert past.abs().max() > 0
        if method == "spatial":
            assert torch.count_nonzero(future) == 0, f"output {t} depends on the future"
        else:  # circular FFT: exact zeros only up to float64 rounding
            assert future.abs().max() <= 1e-12 * past.abs().max(), f"output {t} depends on the future"


@pytest.mark.parametrize("kind", ["FlexConv", "CKConv"])
def test_non_causal_1d_sees_the_future(kind):
    torch.manual_seed(0)
    layer = make(kind, 2, 3, data_dim=1, horizon=31, causal=False, conv_method="spatial", mask=WIDE_MASK).double()
    assert not layer.causal
    x = torch.randn(1, 2, 20, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(layer(x)[..., 5].sum(), x)
    assert grad[..., 6:].abs().max() > 1e-6


# ---------------------------------------------------------------------------------------------
# Shapes, forward and backward.
@pytest.mark.parametrize("kind, mask", [("FlexConv", None), ("FlexConv", WIDE_MASK), ("CKConv", None)])
@pytest.mark.parametrize("data_dim, spatial, horizon", [(1, (13,), 9), (2, (7, 6), 9), (3, (5, 4, 6), 5)])
def test_forward_backward_shapes(kind, mask, data_dim, spatial, horizon):
    torch.manual_seed(0)
    layer = make(kind, 3, 4, data_dim=data_dim, horizon=horizon, mask=mask)
    x = torch.randn(2, 3, *spatial, requires_grad=True)
    out = layer(x)
    assert out.shape == (2, 4, *spatial)
    assert layer.grid_sizes() == (horizon,) * data_dim
    ksize = layer.effective_kernel_size()
    assert layer.make_kernel().shape == (4, 3, *ksize)
    if mask is not None or kind == "CKConv":
        assert ksize == (horizon,) * data_dim
    out.square().mean().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    for name, p in layer.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        assert torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("kind", ["FlexConv", "CKConv"])
@pytest.mark.parametrize("data_dim", [1, 2, 3])
@pytest.mark.parametrize("method", ["spatial", "fft"])
def test_separable(kind, data_dim, method):
    torch.manual_seed(0)
    layer = make(kind, 4, 6, data_dim=data_dim, horizon=5, separable=True, mask=WIDE_MASK, conv_method=method).double()
    assert layer.kernel_net.out_channels == 4
    spatial = (6,) * data_dim
    x = torch.randn(2, 4, *spatial, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (2, 6, *spatial)
    kernel = layer.make_kernel()
    assert kernel.shape == (4, 1, *layer.effective_kernel_size())
    # Depthwise then 1x1 mixing, computed by hand.
    depthwise = Fc.spatial_conv(x, kernel, causal=layer.causal, groups=4)  # (B, 4, *S)
    expected = torch.einsum("oi,bi...->bo...", layer.pointwise, depthwise) + layer.bias.view(1, -1, *[1] * data_dim)
    assert rel_error(out, expected) <= 1e-12
    out.sum().backward()
    assert layer.pointwise.grad is not None and x.grad.shape == x.shape


# ---------------------------------------------------------------------------------------------
# Dynamic cropping is exact.
@pytest.mark.parametrize(
    "data_dim, causal, mean, width",
    [
        (1, True, None, (0.2,)),
        (2, False, None, (0.1, 0.1)),
        (2, False, (0.1, -0.05), (0.15, 0.08)),  # off-centre, anisotropic: rectangular crop
        (1, False, (0.2,), (0.1,)),
    ],
)
def test_cropping_equals_zeroed_full_kernel(data_dim, causal, mean, width):
    torch.manual_seed(0)
    threshold = 0.1
    common = dict(data_dim=data_dim, horizon=33, causal=causal, conv_method="spatial", dtype=torch.float64)
    crop = FlexConv(2, 3, mask=functools.partial(GaussianMask, threshold=threshold), **common)
    with torch.no_grad():
        if mean is not None:
            crop.mask.mean.copy_(torch.tensor(mean))
        crop.mask.width.copy_(torch.tensor(width))
    full = FlexConv(2, 3, mask=functools.partial(GaussianMask, threshold=threshold, dynamic_cropping=False), **common)
    full.load_state_dict(crop.state_dict())

    ksize = crop.effective_kernel_size()
    assert math.prod(ksize) < 33**data_dim, "the test needs an actual crop"
    assert full.effective_kernel_size() == (33,) * data_dim
    window = crop.mask.crop_window(grid_axes(crop))
    assert tuple(s.stop - s.start for s in window) == ksize
    if not causal:  # centred layers crop symmetrically
        assert all(s.start == 33 - s.stop for s in window)
    else:  # causal layers keep the most recent taps
        assert all(s.stop == 33 for s in window)

    full_kernel = full.make_kernel()
    index = (slice(None), slice(None), *window)
    assert rel_error(full_kernel[index], crop.make_kernel()) <= 1e-12
    zeroed = torch.zeros_like(full_kernel)
    zeroed[index] = full_kernel[index]

    x = torch.randn(2, 2, *(20,) * data_dim, dtype=torch.float64)
    expected = Fc.spatial_conv(x, zeroed, full.bias, causal=causal)
    assert rel_error(crop(x), expected) <= 1e-12

    # What was cut away is small: mask <= threshold there, kernel <= threshold * max of the unmasked kernel.
    positions = relative_positions((33,) * data_dim, dtype=torch.float64)
    with torch.no_grad():
        mask_values = full.mask(positions)
        unmasked = full.kernel_net(positions) * full.kernel_scale
    outside = torch.ones_like(mask_values, dtype=torch.bool)
    outside[window] = False
    assert outside.any()
    assert mask_values[outside].max() <= threshold
    assert full_kernel[:, :, outside].abs().max() <= threshold * unmasked.abs().max()


# ---------------------------------------------------------------------------------------------
# The kernel cache.
def _cache_layer():
    torch.manual_seed(0)
    layer = FlexConv(2, 3, data_dim=2, horizon=9, mask=functools.partial(GaussianMask, init_width=0.3))
    x = torch.randn(2, 2, 8, 8)
    return layer, x


def test_cache_reused_in_inference():
    layer, x = _cache_layer()
    layer.eval()
    with torch.no_grad():
        k1 = layer.kernel()
        k2 = layer.kernel()
        assert k1 is k2
        assert torch.equal(k1, layer.make_kernel())
        out1 = layer(x)
        assert layer.kernel() is k1
        assert torch.equal(layer(x), out1)


def test_cache_not_stale_after_optimiser_step():
    layer, x = _cache_layer()
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    layer.eval()
    with torch.no_grad():
        before = layer.kernel().clone()
    layer.train()
    layer(x).square().mean().backward()
    opt.step()
    layer.eval()
    with torch.no_grad():
        after = layer.kernel()
        fresh = layer.make_kernel()
        assert torch.equal(after, fresh)
        assert not torch.equal(after, before)


def test_cache_not_stale_after_load_state_dict():
    layer, x = _cache_layer()
    layer.eval()
    with torch.no_grad():
        before = layer.kernel().clone()
        out_before = layer(x)
    torch.manual_seed(123)
    other = FlexConv(2, 3, data_dim=2, horizon=9, mask=functools.partial(GaussianMask, init_width=0.3))
    layer.load_state_dict(other.state_dict())
    other.eval()
    with torch.no_grad():
        after = layer.kernel()
        assert not torch.equal(after, before)
        assert torch.equal(after, other.make_kernel())
        assert torch.equal(layer(x), other(x))
        assert not torch.equal(layer(x), out_before)


def test_cache_not_stale_after_in_place_edit():
    layer, _ = _cache_layer()
    layer.eval()
    with torch.no_grad():
        before = layer.kernel().clone()
        layer.kernel_net.output.weight.mul_(2.0)
        layer.kernel_scale.fill_(0.5)
        after = layer.kernel()
        assert torch.equal(after, layer.make_kernel())
        assert not torch.equal(after, before)


@pytest.mark.xfail(
    strict=True,
    reason="kernel cache keys on (data_ptr, _version); in-place edits through `param.data` do not bump "
    "the parameter's version counter, so kernel() returns the old kernel",
)
def test_cache_not_stale_after_dot_data_edit():
    layer, _ = _cache_layer()
    layer.eval()
    with torch.no_grad():
        layer.kernel()
        layer.kernel_net.output.weight.data.mul_(2.0)
        assert torch.equal(layer.kernel(), layer.make_kernel())


def test_cache_recomputed_in_training_or_with_grad():
    layer, _ = _cache_layer()
    layer.train()
    with torch.no_grad():
        assert layer.kernel() is not layer.kernel()
    layer.eval()
    k1, k2 = layer.kernel(), layer.kernel()  # grad enabled
    assert k1 is not k2
    assert k1.requires_grad
    assert torch.equal(k1, k2)


# ---------------------------------------------------------------------------------------------
# Optimiser hints.
def _mask_hint_names(module):
    return {n for n, h in named_hints(module).items() if h.get("lr_factor") == 0.1}


def _hinted_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        FlexConv(2, 3, data_dim=2, horizon=9), torch.nn.ReLU(), CKConv(3, 3, data_dim=2, horizon=9),
        FlexConv(3, 2, data_dim=2, horizon=9),
    )


MASK_PARAMS = {"0.mask.mean", "0.mask.width", "3.mask.mean", "3.mask.width"}


def test_mask_params_carry_lr_hint():
    model = _hinted_model()
    assert _mask_hint_names(model) == MASK_PARAMS
    groups = param_groups(model, lr=1.0)
    by_lr = {g["lr"]: g for g in groups}
    assert set(by_lr) == {1.0, 0.1}
    assert set(by_lr[0.1]["names"]) == MASK_PARAMS
    assert {id(p) for p in by_lr[0.1]["params"]} == {id(model.get_parameter(n)) for n in MASK_PARAMS}
    all_names = {n for n, _ in model.named_parameters()}
    assert set(by_lr[1.0]["names"]) == all_names - MASK_PARAMS


def test_hints_survive_to_dtype():
    model = _hinted_model().to(torch.float64)
    assert _mask_hint_names(model) == MASK_PARAMS


def test_hints_survive_pickling():
    buffer = io.BytesIO()
    torch.save(_hinted_model(), buffer)
    buffer.seek(0)
    model = torch.load(buffer, weights_only=False)
    assert _mask_hint_names(model) == MASK_PARAMS


def test_hints_survive_deepcopy():
    # set_hint's docstring promises the hints are kept by deepcopy (export() and EMA copies rely on it).
    model = copy.deepcopy(_hinted_model())
    assert _mask_hint_names(model) == MASK_PARAMS


# ---------------------------------------------------------------------------------------------
# "same"/"full" horizons: the grid is fixed at the first forward and kept in the state dict.
@pytest.mark.parametrize("horizon, expected", [("same", 20), ("full", 39)])
@pytest.mark.parametrize("kind", ["FlexConv", "CKConv"])
def test_data_dependent_grid_is_stored(kind, horizon, expected):
    torch.manual_seed(0)
    layer = make(kind, 2, 3, data_dim=1, horizon=horizon, mask=WIDE_MASK).double()
    state_before = layer.state_dict()
    assert "grid_size" in state_before and "kernel_scale" in state_before
    assert state_before["grid_size"].tolist() == [0]
    with pytest.raises(RuntimeError, match="first input"):
        layer.grid_sizes()
    layer(torch.randn(1, 2, 20, dtype=torch.float64))
    assert layer.grid_sizes() == (expected,)
    state = layer.state_dict()
    assert state["grid_size"].tolist() == [expected]

    other_input = torch.randn(2, 2, 33, dtype=torch.float64)
    torch.manual_seed(99)
    fresh = make(kind, 2, 3, data_dim=1, horizon=horizon, mask=WIDE_MASK).double()
    fresh.load_state_dict(state)
    assert fresh.grid_sizes() == (expected,)  # without having seen any input
    assert torch.equal(fresh(other_input), layer(other_input))
    assert layer.grid_sizes() == (expected,)  # not re-fixed by the longer input


def test_kernel_scale_in_state_dict():
    torch.manual_seed(0)
    layer = FlexConv(2, 3, data_dim=2, horizon=9, kernel_scale=0.5)
    state = layer.state_dict()
    assert float(state["kernel_scale"]) == 0.5
    assert state["grid_size"].tolist() == [9, 9]
    fresh = FlexConv(2, 3, data_dim=2, horizon=9)
    fresh.load_state_dict(state)
    assert float(fresh.kernel_scale) == 0.5
    assert torch.equal(fresh.make_kernel(), layer.make_kernel())


# ---------------------------------------------------------------------------------------------
# Clear errors.
def test_wrong_ndim():
    layer = FlexConv(2, 3, data_dim=2, horizon=9)
    with pytest.raises(ValueError, match=r"data_dim=2 expects input .*got shape \(1, 2, 8\)"):
        layer(torch.randn(1, 2, 8))


def test_wrong_channels():
    layer = FlexConv(2, 3, data_dim=1, horizon=9)
    with pytest.raises(ValueError, match="expects 2 input channels, got 5"):
        layer(torch.randn(1, 5, 8))


@pytest.mark.parametrize("dtype", [torch.long, torch.int32, torch.bool])
def test_integer_input(dtype):
    layer = CKConv(2, 3, data_dim=1, horizon=9)
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(1, 2, 8, dtype=dtype))


def test_empty_spatial_axis():
    layer = FlexConv(2, 3, data_dim=2, horizon=9)
    with pytest.raises(ValueError, match="empty spatial axis"):
        layer(torch.randn(1, 2, 0, 8))


@pytest.mark.parametrize("horizon", [4, 0, -3, True, "valid"])
def test_bad_horizon(horizon):
    with pytest.raises(ValueError, match="horizon"):
        FlexConv(2, 3, data_dim=1, horizon=horizon)


@pytest.mark.parametrize("horizon", [9.0, None])
def test_non_int_horizon_is_a_clear_error(horizon):
    # e.g. ``horizon: 9.0`` from a YAML file: the error should name the horizon, not fail deep
    # inside validate_horizon with "'float' object is not iterable".
    with pytest.raises(ValueError, match="horizon"):
        FlexConv(2, 3, data_dim=1, horizon=horizon)


@pytest.mark.parametrize("horizon", [4, 0, -3])
def test_bad_horizon_message_says_odd(horizon):
    with pytest.raises(ValueError, match="positive odd"):
        FlexConv(2, 3, data_dim=1, horizon=horizon)


@pytest.mark.parametrize("horizon", [(9,), (9, 9, 9)])
def test_wrong_length_horizon_tuple(horizon):
    with pytest.raises(ValueError, match="needs 2 entries"):
        FlexConv(2, 3, data_dim=2, horizon=horizon)


def test_per_axis_horizon():
    layer = FlexConv(1, 1, data_dim=2, horizon=(5, 9), mask=WIDE_MASK)
    assert layer(torch.randn(1, 1, 6, 6)).shape == (1, 1, 6, 6)
    assert layer.effective_kernel_size() == (5, 9)


def test_unknown_kernel_type():
    with pytest.raises(ValueError, match="unknown kernel network 'Foo'"):
        kernel_net_class("Foo")
    assert kernel_net_class("MAGNet") is MAGNet


@pytest.mark.parametrize("width", [float("nan"), float("inf"), 0.0, -0.1])
def test_bad_mask_init_width(width):
    with pytest.raises(ValueError, match="mask width"):
        FlexConv(2, 3, data_dim=1, horizon=9, mask=functools.partial(GaussianMask, init_width=width))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0])
@pytest.mark.parametrize("cropping", [True, False])
def test_diverged_mask_width_raises_at_forward(bad, cropping):
    layer = FlexConv(2, 3, data_dim=2, horizon=9, mask=functools.partial(GaussianMask, dynamic_cropping=cropping))
    with torch.no_grad():
        layer.mask.width[1] = bad
    with pytest.raises(FloatingPointError, match="width"):
        layer(torch.randn(1, 2, 8, 8))


def test_steerable_magnet_needs_2d():
    with pytest.raises(ValueError, match="steerable"):
        MAGNet(1, 4, steerable=True)
    with pytest.raises(ValueError, match="steerable"):
        FlexConv(2, 3, data_dim=1, horizon=9, kernel_net=functools.partial(MAGNet, steerable=True))
    MAGNet(2, 4, steerable=True)  # fine in 2D


def test_flexconv_needs_a_mask():
    with pytest.raises(ValueError, match="mask"):
        FlexConv(2, 3, data_dim=1, horizon=9, mask=None)


def test_bad_conv_method_and_channels():
    with pytest.raises(ValueError, match="conv_method"):
        FlexConv(2, 3, data_dim=1, horizon=9, conv_method="direct")
    with pytest.raises(ValueError, match="channels"):
        CKConv(0, 3, data_dim=1, horizon=9)


# ---------------------------------------------------------------------------------------------
# Initialisation.
def test_magnet_gamma_init():
    torch.manual_seed(0)
    alpha, hidden, layers = 6.0, 4000, 3
    net = MAGNet(2, 1, hidden_channels=hidden, num_layers=layers, alpha=alpha)
    for l, f in enumerate(net.filters):
        assert f.gamma.shape == (hidden, 2)  # anisotropic: one per unit and axis
        shape = alpha / (l + 1)  # Gamma(shape, 1): mean = var = shape
        stderr = math.sqrt(shape / f.gamma.numel())
        assert abs(float(f.gamma.mean()) - shape) < 5 * stderr, f"filter {l}"
        assert abs(float(f.gamma.var()) - shape) < 0.15 * shape, f"filter {l}"
        assert (f.gamma > 0).all()


def test_gabornet_gamma_init():
    torch.manual_seed(0)
    net = GaborNet(2, 1, hidden_channels=4000, num_layers=3, alpha=6.0)
    for f in net.filters:
        assert f.gamma.shape == (4000, 1)  # isotropic
        assert abs(float(f.gamma.mean()) - 1.5) < 5 * math.sqrt(1.5 / 4000)


@pytest.mark.parametrize("init_width, data_dim", [(0.075, 2), (0.2, 1), (0.02, 3), (2.0, 2)])
def test_flexconv_initialises_mu_near_the_mask(init_width, data_dim):
    torch.manual_seed(0)
    layer = FlexConv(
        1, 1, data_dim=data_dim, horizon=9,
        kernel_net=functools.partial(MAGNet, hidden_channels=256),
        mask=functools.partial(GaussianMask, init_width=init_width),
    )
    extent = min(1.0, SPATIAL_EXTENT_PER_WIDTH * init_width)
    assert SPATIAL_EXTENT_PER_WIDTH == pytest.approx(1.667)
    for f in layer.kernel_net.filters:
        assert f.mu.abs().max() <= extent + 1e-7
        assert f.mu.abs().max() >= 0.8 * extent  # spread over the range, not collapsed
