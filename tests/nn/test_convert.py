"""flexconv.nn.convert: FlexConv into torchvision's ResNets, timm's ConvNeXt and our own models."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from flexconv.nn import CKConv, FlexConv, continuous_counterpart, convert, export

torchvision = pytest.importorskip("torchvision")


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def plain_convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if type(m) is nn.Conv2d]


def test_resnet18_trains_exports_and_round_trips_its_state_dict() -> None:
    torch.manual_seed(0)
    plain = torchvision.models.resnet18(num_classes=10)
    model = convert(torchvision.models.resnet18(num_classes=10))
    layers = [m for m in model.modules() if isinstance(m, FlexConv)]
    assert len(layers) == 17 and all(c.kernel_size == (1, 1) for c in plain_convs(model))  # 3 1x1 shortcuts left
    assert [layer.stride for layer in layers].count((2, 2)) == 4  # the stem and three strided 3x3s
    assert count(model) <= 1.5 * count(plain)  # the separable default (issue: a dense conversion is 3.6x)
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])  # layer4 sees 2x2: every tap meets the input
    assert model(x).shape == plain(x).shape == (4, 10)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        assert all(layer.mask.width.grad.abs().sum() > 0 for layer in layers)  # every kernel size learns
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]

    model.eval()
    with torch.no_grad():
        reference = model(x)
        assert torch.allclose(export(model)(x), reference, rtol=1e-4, atol=1e-4)
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        buffer.seek(0)
        again = convert(torchvision.models.resnet18(num_classes=10))
        again.load_state_dict(torch.load(buffer, weights_only=True))
        assert torch.equal(again.eval()(x), reference)


def test_resnet50_keeps_its_shapes_and_its_parameter_budget() -> None:
    plain = torchvision.models.resnet50(num_classes=10)
    model = convert(torchvision.models.resnet50(num_classes=10))
    assert sum(isinstance(m, FlexConv) for m in model.modules()) == 17  # the stem 7x7 and the 16 3x3s
    assert count(model) <= 1.5 * count(plain)
    x = torch.randn(1, 3, 64, 64)
    assert model(x).shape == plain(x).shape


def test_convnext_depthwise_7x7_becomes_a_depthwise_flexconv() -> None:
    timm = pytest.importorskip("timm")
    model = convert(timm.create_model("convnext_atto", num_classes=10, pretrained=False))
    layers = [m for m in model.modules() if isinstance(m, FlexConv)]
    assert len(layers) == 12 and all(m.groups == m.in_channels and not m.separable for m in layers)
    assert all(max(c.kernel_size) <= 4 for c in plain_convs(model))  # 4x4 stem, 2x2 downsampling, 1x1s: kept
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_our_own_models() -> None:
    from flexconv.models.registry import get_model

    for name, data in (("resnet32", (2, 3, 16, 16)), ("flextcn4_conv3", (2, 1, 40))):
        plain = get_model(name)
        model = convert(get_model(name))
        assert any(isinstance(m, FlexConv) for m in model.modules())
        x = torch.randn(*data)
        assert model(x).shape == plain(x).shape


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.Conv2d(4, 8, 5, padding="same", dilation=2, padding_mode="circular"),
        nn.Conv1d(4, 4, 3, padding="valid", groups=2),
        nn.Conv3d(2, 4, (3, 1, 5), stride=(1, 2, 1), padding=(1, 0, 2)),
    ],
)
@pytest.mark.parametrize("horizon", [None, 9])
def test_a_converted_layer_gives_the_convolution_s_output_shape(conv, horizon) -> None:
    layer = continuous_counterpart(conv, horizon=horizon)
    x = torch.randn(2, conv.in_channels, *(19 + d for d in range(len(conv.kernel_size))))
    assert layer(x).shape == conv(x).shape
    assert layer.grid_sizes() == (tuple(conv.kernel_size) if horizon is None else (9,) * len(conv.kernel_size))


def test_selection_by_name_or_predicate_and_layer_options() -> None:
    names = {
        name
        for name, m in convert(torchvision.models.resnet18(), include=r"layer4").named_modules()
        if isinstance(m, FlexConv)
    }
    assert names == {"layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2"}
    model = convert(
        torchvision.models.resnet18(),
        include=lambda name, conv: conv.stride == (2, 2),
        layer=CKConv,
        separable=False,
        kernel_net="SIREN",
        horizon=7,
    )
    converted = [m for m in model.modules() if isinstance(m, CKConv)]
    assert len(converted) == 4 and all(
        m.mask is None and not m.separable and m.grid_sizes() == (7, 7) for m in converted
    )
    assert type(converted[0].kernel_net).__name__ == "SIREN"
    with pytest.raises(ValueError, match="horizon must be odd and at least the kernel size"):
        convert(torchvision.models.resnet18(), horizon=5)  # the 7x7 stem
    with pytest.raises(TypeError, match="for one layer use continuous_counterpart"):
        convert(nn.Conv2d(1, 1, 3))
