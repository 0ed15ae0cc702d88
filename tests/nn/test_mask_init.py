"""The initial mask width is grid-aware: every FlexConv starts with a kernel size that can learn."""

from __future__ import annotations

import functools

import pytest
import torch

from flexconv.compat import conv_config_from_original
from flexconv.nn import FlexConv, GaussianMask

HORIZONS = range(3, 130, 2)


@pytest.mark.parametrize("data_dim, causal", [(1, True), (1, False), (2, False), (3, False)])
def test_the_mask_width_gets_a_gradient_at_every_horizon(data_dim: int, causal: bool) -> None:
    """With the paper's initial width (0.075) a grid of fewer than ~19 taps was cropped to one tap, whose
    mask value is 1 whatever the width: the width's gradient was 0 and the kernel size never learned."""
    torch.manual_seed(0)
    x = torch.randn(2, 1, *(8,) * data_dim)
    for horizon in HORIZONS:
        layer = FlexConv(1, 2, data_dim=data_dim, horizon=horizon, causal=causal)
        assert layer.mask.dynamic_cropping
        layer(x).square().sum().backward()
        assert min(layer.effective_kernel_size()) >= 3, horizon
        assert (layer.mask.width.grad != 0).all(), horizon


def test_widening_happens_only_where_the_initial_width_keeps_too_few_taps() -> None:
    assert FlexConv(1, 1, data_dim=2, horizon=33).mask.width.tolist() == pytest.approx([0.075, 0.075])  # 5x5 already
    assert FlexConv(1, 1, data_dim=2, horizon=15).effective_kernel_size() == (3, 3)  # 3x3 already: kept
    assert FlexConv(1, 1, data_dim=2, horizon=15).mask.width.tolist() == pytest.approx([0.075, 0.075])
    widened = FlexConv(1, 1, data_dim=1, horizon=9, causal=True)
    assert widened.effective_kernel_size() == (3,)
    # the 3rd tap (0.5 below the mean) is half a spacing (0.125) inside the threshold crossing
    crossing = float(widened.mask.width.detach()) * (-2 * torch.log(torch.tensor(0.1))).sqrt()
    assert float(crossing) == pytest.approx(0.625)


def test_min_taps_one_keeps_the_width_as_given_as_the_original_does() -> None:
    paper = FlexConv(1, 1, data_dim=2, horizon=9, mask=functools.partial(GaussianMask, min_taps=1))
    assert paper.mask.width.tolist() == pytest.approx([0.075, 0.075]) and paper.effective_kernel_size() == (1, 1)
    assert conv_config_from_original({"horizon": 9}).mask["min_taps"] == 1
    with pytest.raises(ValueError, match="min_taps must be >= 1, got 0"):
        GaussianMask(1, min_taps=0)


def test_a_grid_fixed_by_the_first_input_widens_then_and_never_again() -> None:
    layer = FlexConv(1, 1, data_dim=1, horizon="same")
    before = layer.mask.width.clone()
    layer(torch.randn(1, 1, 12))  # a 12-tap causal grid: the initial width keeps 1 tap
    assert layer.effective_kernel_size() == (3,) and (layer.mask.width > before).all()
    trained = torch.full_like(layer.mask.width, 0.01)
    with torch.no_grad():
        layer.mask.width.copy_(trained)  # e.g. learned or loaded: later forwards leave it alone
    layer(torch.randn(1, 1, 12))
    assert torch.equal(layer.mask.width, trained)
    loaded = FlexConv(1, 1, data_dim=1, horizon="same")
    loaded.load_state_dict(layer.state_dict())  # the loaded grid is fixed: no widening over loaded widths
    loaded(torch.randn(1, 1, 12))
    assert torch.equal(loaded.mask.width, trained)


def test_the_kernel_network_starts_within_the_widened_mask() -> None:
    layer = FlexConv(1, 1, data_dim=2, horizon=9)
    extent = 1.667 * float(layer.mask.width.detach().max())
    assert extent > 1.667 * 0.075
    assert all(0.8 * extent <= float(f.mu.abs().max()) <= extent + 1e-6 for f in layer.kernel_net.filters)
