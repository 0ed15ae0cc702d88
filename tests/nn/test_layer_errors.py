"""CKConv / FlexConv arguments and inputs: clear errors, per-axis horizons."""

from __future__ import annotations

import functools

import pytest
import torch

from flexconv.nn import CKConv, FlexConv, GaussianMask, MAGNet

WIDE_MASK = functools.partial(GaussianMask, init_width=10.0)  # no cropping: the whole grid


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
