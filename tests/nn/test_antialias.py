"""AntiAliasing: values equal the hand computation of flexconv/nn/antialias.py's docstring.

Per layer, F = L+1 filters with bounds f_l, Nyquist nyq = (k - 1) / 2 * 0.5 (k = grid size):
"together" compares each f_l (+ f_mask / F for "gabor+mask") with nyq / F, "summed" compares
sum_l f_l (+ f_mask) with nyq; l2_relu = max(0, e)^2, offset_elu = 5 (e - 3 if e > 4 else exp(e - 4)).
"""

from __future__ import annotations

import functools
import math

import pytest
import torch

from flexconv.nn import SIREN, CKConv, FlexConv, FourierNet, GaborNet, GaussianMask, MAGNet
from flexconv.nn.antialias import AntiAliasing, frequency_over_nyquist, nyquist_frequency
from flexconv.nn.kernels.mfn import GaborFilter

TARGETS = ["gabor", "gabor+mask"]
METHODS = ["together", "summed"]
FNS = ["l2_relu", "offset_elu"]


def make_model(kernel_net=MAGNet, layer=FlexConv, dtype=torch.float64):
    torch.manual_seed(0)
    net = functools.partial(kernel_net, hidden_channels=8, num_layers=2)
    kwargs = dict(data_dim=2, kernel_net=net, dtype=dtype)
    if layer is FlexConv:
        kwargs["mask"] = functools.partial(GaussianMask, init_width=0.1)
    return torch.nn.Sequential(layer(2, 3, horizon=9, **kwargs), torch.nn.ReLU(), layer(3, 2, horizon=17, **kwargs))


def layers_of(model):
    return [model[0], model[2]]


def hand_filter_bounds(layer, stddevs=2.0) -> list[torch.Tensor]:
    """Per filter: max |W| / 2 pi (+ max |gamma| * stddevs / 2 pi for Gabor filters), from the raw parameters."""
    bounds = []
    for f in layer.kernel_net.filters:
        b = f.linear.weight.abs().max() / (2 * math.pi)
        if isinstance(f, GaborFilter):
            b = b + f.gamma.abs().max() * stddevs / (2 * math.pi)
        bounds.append(b)
    return bounds


def hand_value(model, target, method, fn, factor, stddevs=2.0, horizon=None, use_api=True) -> torch.Tensor:
    excess = []
    for layer in layers_of(model):
        if use_api:
            freqs = list(layer.kernel_net.frequency_bounds(stddevs))
            mask_freq = layer.mask.frequency_bounds(stddevs) if target == "gabor+mask" else None
        else:
            freqs = hand_filter_bounds(layer, stddevs)
            mask_freq = (
                (1.0 / layer.mask.width.abs()).max() * stddevs / (2 * math.pi) if target == "gabor+mask" else None
            )
        k = horizon if horizon is not None else max(int(n) for n in layer.grid_size)
        nyq = (k - 1) / 2 * 0.5
        n_filters = len(freqs)
        if method == "summed":
            total = sum(freqs) + (mask_freq if mask_freq is not None else 0.0)
            excess.append(total - nyq)
        else:
            for f in freqs:
                if mask_freq is not None:
                    f = f + mask_freq / n_filters
                excess.append(f - nyq / n_filters)
    total = 0.0
    for e in excess:
        if fn == "l2_relu":
            total = total + torch.clamp(e, min=0.0) ** 2
        else:
            total = total + 5.0 * ((e - 4.0 + 1.0) if e > 4.0 else torch.exp(e - 4.0))
    return factor * total


def test_nyquist():
    assert nyquist_frequency(33) == 8.0
    assert nyquist_frequency(9) == 2.0


def test_frequency_bounds_match_parameters():
    model = make_model()
    for layer in layers_of(model):
        api = layer.kernel_net.frequency_bounds(2.0)
        assert api.shape == (3,)
        assert torch.allclose(api, torch.stack(hand_filter_bounds(layer)), rtol=1e-12, atol=0)
        width = layer.mask.width
        expected = float((1.0 / width.abs()).max()) * 2.0 / (2 * math.pi)
        assert float(layer.mask.frequency_bounds(2.0)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fn", FNS)
@pytest.mark.parametrize("use_api", [True, False])
def test_value_equals_hand_computation(target, method, fn, use_api):
    model = make_model()
    with torch.no_grad():  # make the two layers' masks differ, and one axis anisotropic
        model[2].mask.width.copy_(torch.tensor([0.05, 0.3]))
    reg = AntiAliasing(factor=0.3, target=target, method=method, fn=fn)
    value = reg(model)
    expected = hand_value(model, target, method, fn, factor=0.3, use_api=use_api)
    assert value.dim() == 0
    assert float(expected) > 0
    assert float(value) == pytest.approx(float(expected), rel=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_horizon_override_and_stddevs(method):
    model = make_model()
    reg = AntiAliasing(factor=1.0, target="gabor+mask", method=method, fn="l2_relu", gauss_stddevs=3.0, horizon=65)
    expected = hand_value(model, "gabor+mask", method, "l2_relu", 1.0, stddevs=3.0, horizon=65)
    assert float(reg(model)) == pytest.approx(float(expected), rel=1e-10)


@pytest.mark.parametrize("kernel_net", [GaborNet, FourierNet])
@pytest.mark.parametrize("method", METHODS)
def test_other_analytic_kernel_nets(kernel_net, method):
    model = make_model(kernel_net=kernel_net)
    reg = AntiAliasing(factor=1.0, target="gabor+mask", method=method, fn="l2_relu")
    expected = hand_value(model, "gabor+mask", method, "l2_relu", 1.0, use_api=False)
    assert float(reg(model)) == pytest.approx(float(expected), rel=1e-10)


def test_layer_iterable_equals_module():
    model = make_model()
    reg = AntiAliasing(target="gabor+mask")
    assert float(reg(layers_of(model))) == pytest.approx(float(reg(model)), rel=1e-14)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("method", METHODS)
def test_zero_when_under_target(target, method):
    model = make_model()
    with torch.no_grad():
        for layer in layers_of(model):
            for f in layer.kernel_net.filters:
                f.linear.weight.mul_(1e-3)
                f.gamma.mul_(1e-3)
            layer.mask.width.fill_(1.0)  # f_mask = 1 / pi: well under the Nyquist of 9 taps (2)
    reg = AntiAliasing(factor=1.0, target=target, method=method, fn="l2_relu")
    value = reg(model)
    assert float(value) == 0.0
    # offset_elu is smooth: small but positive below the target
    smooth = AntiAliasing(factor=1.0, target=target, method=method, fn="offset_elu")(model)
    assert 0.0 < float(smooth) < 5.0 * 4 * math.exp(-4.0) * 2


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fn", FNS)
def test_gradients_flow(target, method, fn):
    model = make_model()
    AntiAliasing(factor=1.0, target=target, method=method, fn=fn)(model).backward()
    for layer in layers_of(model):
        for i, f in enumerate(layer.kernel_net.filters):
            assert f.linear.weight.grad is not None and f.linear.weight.grad.abs().max() > 0, f"filter {i} weight"
            assert f.gamma.grad is not None and f.gamma.grad.abs().max() > 0, f"filter {i} gamma"
        width_grad = layer.mask.width.grad
        if target == "gabor+mask":
            assert width_grad is not None and width_grad.abs().max() > 0
            assert (width_grad <= 0).all()  # a wider mask has a lower frequency bound
        else:
            assert width_grad is None or width_grad.abs().max() == 0
    # the penalty pushes frequencies down: the gradient wrt gamma is non-negative
    for layer in layers_of(model):
        for f in layer.kernel_net.filters:
            assert (f.gamma.grad >= 0).all()


def test_gabor_target_works_on_ckconv():
    model = make_model(layer=CKConv)
    value = AntiAliasing(factor=1.0, target="gabor", method="together", fn="l2_relu")(model)
    expected = hand_value(model, "gabor", "together", "l2_relu", 1.0)
    assert float(value) == pytest.approx(float(expected), rel=1e-10)


def test_siren_has_no_analytic_frequencies():
    model = make_model(kernel_net=SIREN)
    with pytest.raises(ValueError, match="analytic frequencies"):
        AntiAliasing()(model)


def test_gabor_mask_needs_a_mask():
    model = make_model(layer=CKConv)
    with pytest.raises(ValueError, match="gabor\\+mask.*mask"):
        AntiAliasing(target="gabor+mask")(model)


def test_no_layers():
    with pytest.raises(ValueError, match="no CKConv"):
        AntiAliasing()(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    "kwargs, what",
    [
        ({"target": "mask"}, "target"),
        ({"target": "Gabor"}, "target"),
        ({"method": "average"}, "method"),
        ({"fn": "l1"}, "fn"),
        ({"fn": "elu"}, "fn"),
    ],
)
def test_bad_options(kwargs, what):
    with pytest.raises(ValueError, match=what):
        AntiAliasing(**kwargs)


def test_frequency_over_nyquist_is_the_summed_bound_over_the_grids_nyquist_frequency():
    model = make_model()
    for layer, grid in zip(layers_of(model), (9, 17)):
        want = float(sum(hand_filter_bounds(layer)).detach()) / ((grid - 1) / 4)
        assert frequency_over_nyquist(layer) == pytest.approx(want, rel=1e-12)
    siren = make_model(kernel_net=SIREN, layer=CKConv)
    assert frequency_over_nyquist(siren[0]) is None  # no analytic frequencies
