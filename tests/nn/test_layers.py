"""CKConv / FlexConv forward: causality, shapes and gradients (1D/2D/3D, separable), exact cropping."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from flexconv.nn import CKConv, FlexConv, GaussianMask
from flexconv.nn import functional as Fc
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


@pytest.mark.parametrize("causal", [True, False])
def test_a_mask_cropped_to_one_tap_grows_only_with_a_crop_margin(causal):
    """A mask narrower than one tap (the initial width kept as given: min_taps=1) keeps only its centre tap,
    where its value is 1 whatever the width: no gradient reaches the width, so without a margin the layer
    stays 1 tap for good."""
    torch.manual_seed(0)
    grads, sizes = {}, {}
    for margin in (0, 1):
        layer = FlexConv(
            2,
            3,
            data_dim=1,
            horizon=33,
            causal=causal,
            dtype=torch.float64,
            mask=functools.partial(GaussianMask, init_width=0.01, crop_margin=margin, min_taps=1),
        )
        x = torch.randn(2, 2, 40, dtype=torch.float64)
        layer(x).square().sum().backward()
        grads[margin], sizes[margin] = layer.mask.width.grad.abs().item(), layer.effective_kernel_size()[0]
    assert sizes[0] == 1 and grads[0] == 0.0
    assert sizes[1] == (2 if causal else 3) and grads[1] > 0.0


def test_crop_margin_must_not_be_negative():
    with pytest.raises(ValueError, match="crop_margin must be >= 0, got -1"):
        GaussianMask(1, crop_margin=-1)
