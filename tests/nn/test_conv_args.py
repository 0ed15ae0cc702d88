"""nn.Conv's arguments on continuous-kernel layers: stride, padding, dilation, groups, padding_mode.

A layer with grid size n computes ``nn.ConvNd(kernel_size=n, <the same arguments>)`` whose weight is
the kernel sampled on the whole grid, zero outside the crop window: same shapes, same values.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from flexconv.nn import CKConv, FlexConv, nd_class
from flexconv.nn import functional as Fc
from flexconv.nn.grid import relative_positions

CASES: list[tuple[int, bool, dict[str, Any]]] = [
    (1, False, dict(stride=2)),
    (1, False, dict(padding="valid")),
    (1, False, dict(padding=2, dilation=2)),
    (1, False, dict(groups=2, padding_mode="circular")),
    (1, False, dict(stride=3, padding_mode="reflect", dilation=2)),
    (1, True, dict(stride=2)),
    (1, True, dict(dilation=3)),
    (1, True, dict(padding="valid", dilation=2)),
    (2, False, dict(stride=2, padding=1)),  # a ResNet's strided 3x3 (horizon 3)
    (2, False, dict(stride=(1, 2), padding="same")),
    (2, False, dict(dilation=2, padding_mode="replicate")),
    (2, False, dict(groups=4)),  # depthwise: in = out = groups
    (2, False, dict(padding="valid", stride=2)),
    (3, False, dict(stride=2, dilation=(1, 2, 1))),
    (3, False, dict(padding=(1, 0, 2), groups=2)),
]


def full_grid_conv(layer: CKConv) -> torch.nn.Module:
    """``nn.ConvNd`` of the grid's size with the layer's arguments and its kernel, zero outside the crop window."""
    grid = layer.grid_sizes()
    axes = [torch.linspace(-1.0, 1.0, n, dtype=torch.float64) for n in grid]
    window = layer.mask.crop_window(axes) if layer.mask is not None else tuple(slice(None) for _ in grid)
    positions = relative_positions(grid, dtype=torch.float64)
    with torch.no_grad():
        full = layer.kernel_net(positions) * layer.kernel_scale
        full = full * layer.mask(positions) if layer.mask is not None else full
    full = full.view(layer.out_channels, layer.in_channels // layer.groups, *grid)
    zeroed = torch.zeros_like(full)
    zeroed[(slice(None), slice(None), *window)] = full[(slice(None), slice(None), *window)]
    if layer.padding == "same":  # nn.ConvNd refuses "same" with a stride: the same amounts as ints
        padding: Any = tuple(d * (n - 1) // 2 for d, n in zip(layer.dilation, grid))
    else:
        padding = layer.padding
    conv = nd_class("Conv", layer.data_dim)(
        layer.in_channels,
        layer.out_channels,
        grid,
        stride=layer.stride,
        padding=0 if layer.causal else padding,
        dilation=layer.dilation,
        groups=layer.groups,
        padding_mode=layer.padding_mode,
        dtype=torch.float64,
    )
    with torch.no_grad():
        conv.weight.copy_(zeroed)
        conv.bias.copy_(layer.bias)
    if layer.causal and layer.padding == "same":  # the past only: d (n - 1) zeros on the left
        return torch.nn.Sequential(torch.nn.ConstantPad1d((layer.dilation[0] * (grid[0] - 1), 0), 0.0), conv)
    return conv


@pytest.mark.parametrize("method", ["spatial", "fft"])
@pytest.mark.parametrize("horizon", [5, 33])
@pytest.mark.parametrize("data_dim, causal, kwargs", CASES)
def test_outputs_are_nn_conv_of_the_whole_grid(data_dim, causal, kwargs, horizon, method, monkeypatch) -> None:
    torch.manual_seed(0)
    if data_dim == 3 and horizon == 33:
        horizon = 9
    layer = FlexConv(
        4, 4, data_dim=data_dim, horizon=horizon, causal=causal, conv_method=method, dtype=torch.float64, **kwargs
    )
    # nn.ConvNd's rules for the whole grid: the padded input must hold the (dilated) grid, and reflect or
    # circular padding must not reach further than the input.
    whole_grid = kwargs.get("padding", "same") != "same" or kwargs.get("padding_mode", "zeros") != "zeros"
    size = max(layer.dilation) * (horizon - 1) + 2 if whole_grid else 11 if data_dim < 3 else 7
    x = torch.randn(2, 4, *(size + d for d in range(data_dim)), dtype=torch.float64, requires_grad=True)
    ffts = []
    monkeypatch.setattr(Fc, "fft_conv", lambda *a, **k: ffts.append(1) or FFT_CONV(*a, **k))
    out = layer(x)
    expected = full_grid_conv(layer)(x.detach())
    assert out.shape == expected.shape
    assert torch.allclose(out.detach(), expected, rtol=1e-10, atol=1e-10)
    depthwise_or_dense = layer.groups in (1, layer.in_channels)
    assert bool(ffts) == (method == "fft" and layer.stride == (1,) * data_dim and depthwise_or_dense)
    out.square().sum().backward()  # gradients reach the input and the mask
    assert torch.isfinite(x.grad).all() and (layer.mask.width.grad != 0).any()


FFT_CONV = Fc.fft_conv


@pytest.mark.parametrize("method", ["spatial", "fft", "auto"])
def test_a_strided_layer_runs_a_strided_convolution(method, monkeypatch) -> None:
    strides = []
    conv2d = F.conv2d
    monkeypatch.setattr(F, "conv2d", lambda *a, **k: strides.append(k.get("stride")) or conv2d(*a, **k))
    layer = FlexConv(3, 5, data_dim=2, horizon=33, stride=2, conv_method=method)
    assert layer(torch.randn(2, 3, 16, 16)).shape == (2, 5, 8, 8)
    assert strides == [[2, 2]]  # one convolution, strided: no full-resolution output computed and subsampled


def test_separable_layers_take_the_arguments_on_their_depthwise_part() -> None:
    layer = FlexConv(4, 6, data_dim=2, horizon=9, separable=True, stride=2, padding=4, dilation=2)
    reference = torch.nn.Conv2d(4, 6, 9, stride=2, padding=4, dilation=2)
    x = torch.randn(1, 4, 20, 17)
    assert layer(x).shape == reference(x).shape == (1, 6, 6, 5)
    assert "stride=(2, 2), padding=(4, 4), dilation=(2, 2)" in repr(layer)


def test_groups_divide_the_kernel_network_outputs() -> None:
    dense = CKConv(8, 8, data_dim=2, horizon=3)
    depthwise = CKConv(8, 8, data_dim=2, horizon=3, groups=8)
    assert depthwise.kernel_net.output.out_features * 8 == dense.kernel_net.output.out_features


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(causal=True, padding=2), "a causal layer pads its past only"),
        (dict(causal=True, padding_mode="circular"), "a causal layer pads with zeros"),
        (dict(padding="full"), "padding must be 'same', 'valid', an int"),
        (dict(stride=0), "stride must be an int >= 1"),
        (dict(dilation=(1, 2)), r"dilation must be an int >= 1 or 1 of them"),
        (dict(groups=3), "groups=3 must divide in_channels=4 and out_channels=6"),
        (dict(groups=2, separable=True), "separable layers are depthwise then 1x1 already"),
        (dict(padding_mode="mirror"), "padding_mode must be one of"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        FlexConv(4, 6, data_dim=1, horizon=9, **kwargs)


@pytest.mark.parametrize("data_dim, causal, kwargs", CASES)
def test_export_keeps_the_arguments(data_dim, causal, kwargs) -> None:
    from flexconv.nn import export

    torch.manual_seed(0)
    layer = FlexConv(
        4, 4, data_dim=data_dim, horizon=9, causal=causal, separable=kwargs.get("groups", 1) == 1, **kwargs
    ).eval()
    x = torch.randn(2, 4, *(20 + d for d in range(data_dim)))
    with torch.no_grad():
        assert torch.allclose(export(layer)(x), layer(x), rtol=1e-4, atol=1e-5)


def test_a_strided_causal_layer_does_not_stream() -> None:
    from flexconv.nn import stream

    layer = FlexConv(1, 2, data_dim=1, horizon=9, stride=2).eval()
    layer(torch.randn(1, 1, 9))
    with pytest.raises(ValueError, match="only the causal 'same' convolution with stride, dilation and groups 1"):
        stream(layer)
