"""Kernel networks: the registry (one table by class name) and the initialisation of MAGNet/GaborNet."""

from __future__ import annotations

import functools
import inspect
import math

import pytest
import torch

from flexconv.nn import (
    KERNEL_NETS,
    FlexConv,
    GaborNet,
    GaussianMask,
    KernelNet,
    MAGNet,
    kernel_net_class,
    register_kernel_net,
)
from flexconv.nn.ckconv import SPATIAL_EXTENT_PER_WIDTH

BUILT_IN = {"MAGNet", "GaborNet", "FourierNet", "SIREN", "MLP"}


# ---------------------------------------------------------------------------------------------
# The table of kernel networks and the contract.
def test_unknown_kernel_type():
    with pytest.raises(ValueError, match=r"unknown kernel network 'Foo'; known: \[.*'MAGNet'"):
        kernel_net_class("Foo")
    assert kernel_net_class("MAGNet") is MAGNet
    assert BUILT_IN <= set(KERNEL_NETS)


@pytest.mark.parametrize("name", sorted(KERNEL_NETS))  # a network added to flexconv.nn.kernels is tested too
def test_every_kernel_net_keeps_the_contract(name):
    """Constructor (data_dim, out_channels, *, <options with defaults>, device, dtype); (D, *S) -> (out, *S)."""
    cls = kernel_net_class(name)
    parameters = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in parameters[:2]] == ["data_dim", "out_channels"]
    options = parameters[2:]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in options)
    assert {"device", "dtype"} <= {p.name for p in options}
    net = cls(2, 3, dtype=torch.float64)
    assert net(torch.rand(2, 5, 4, dtype=torch.float64) * 2 - 1).shape == (3, 5, 4)
    bounds = net.frequency_bounds(2.0)
    assert bounds is None or bounds.shape == (len(net.filters),)


def test_a_registered_kernel_net_is_found_by_name():
    class Constant(KernelNet):
        """Every tap the same learned value per channel."""

        def __init__(self, data_dim, out_channels, *, value: float = 1.0, device=None, dtype=None):
            super().__init__(data_dim, out_channels)
            self.value = torch.nn.Parameter(torch.full((out_channels,), value, device=device, dtype=dtype))

        def forward(self, positions):
            return self.value.view(-1, *[1] * (positions.dim() - 1)).expand(-1, *positions.shape[1:])

    try:
        assert register_kernel_net(Constant) is Constant and kernel_net_class("Constant") is Constant
        layer = FlexConv(2, 3, data_dim=1, horizon=5, kernel_net="Constant")
        assert isinstance(layer.kernel_net, Constant) and layer(torch.randn(1, 2, 7)).shape == (1, 3, 7)
        register_kernel_net(Constant)  # the same definition again (a re-run notebook cell): fine
        other = type("Constant", (KernelNet,), {})
        with pytest.raises(ValueError, match="already registered"):
            register_kernel_net(other)
    finally:
        KERNEL_NETS.pop("Constant", None)
    with pytest.raises(TypeError, match="KernelNet subclass"):
        register_kernel_net(torch.nn.Linear)


# ---------------------------------------------------------------------------------------------
# Initialisation.
def test_magnet_gamma_init():
    torch.manual_seed(0)
    alpha, hidden, layers = 6.0, 4000, 3
    net = MAGNet(2, 1, hidden_channels=hidden, num_layers=layers, alpha=alpha)
    for i, f in enumerate(net.filters):
        assert f.gamma.shape == (hidden, 2)  # anisotropic: one per unit and axis
        shape = alpha / (i + 1)  # Gamma(shape, 1): mean = var = shape
        stderr = math.sqrt(shape / f.gamma.numel())
        assert abs(float(f.gamma.mean()) - shape) < 5 * stderr, f"filter {i}"
        assert abs(float(f.gamma.var()) - shape) < 0.15 * shape, f"filter {i}"
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
        1,
        1,
        data_dim=data_dim,
        horizon=9,
        kernel_net=functools.partial(MAGNet, hidden_channels=256),
        mask=functools.partial(GaussianMask, init_width=init_width, min_taps=1),  # the width as given
    )
    extent = min(1.0, SPATIAL_EXTENT_PER_WIDTH * init_width)
    assert SPATIAL_EXTENT_PER_WIDTH == pytest.approx(1.667)
    for f in layer.kernel_net.filters:
        assert f.mu.abs().max() <= extent + 1e-7
        assert f.mu.abs().max() >= 0.8 * extent  # spread over the range, not collapsed
