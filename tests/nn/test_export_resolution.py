"""flexconv.nn.export and flexconv.nn.resolution.

``export`` turns continuous-kernel layers into plain convolutions that give the same outputs,
export to ONNX and compile; ``change_resolution`` re-samples the kernel grids for another
sampling rate (FlexConv paper, Sec. 5.4).
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from flexconv.models.conv_config import ConvConfig
from flexconv.models.flexnet import FlexNet, FlexNetConfig
from flexconv.nn import CKConv, FlexConv, GaussianMask, MAGNet, change_resolution, export, reestimate_batch_norm

SMALL_KERNEL = {"kernel_net": {"name": "MAGNet", "hidden_channels": 8, "num_layers": 2}}
SMALL_MAGNET = functools.partial(MAGNet, hidden_channels=8, num_layers=2)


def image_net(**conv) -> FlexNet:
    torch.manual_seed(0)
    config = FlexNetConfig(
        in_channels=3,
        num_classes=5,
        hidden_channels=4,
        num_blocks=2,
        conv=ConvConfig(horizon=9, **SMALL_KERNEL, **conv),
    )
    return FlexNet(config).eval()


def sequence_net() -> FlexNet:
    torch.manual_seed(0)
    config = FlexNetConfig(
        data_dim=1,
        block="tcn",
        head="last",
        in_channels=1,
        num_classes=4,
        hidden_channels=4,
        num_blocks=2,
        conv=ConvConfig(horizon="same", **SMALL_KERNEL),
    )
    return FlexNet(config).eval()


def widen_masks(model: nn.Module, width: float) -> None:
    """Give every mask a width so that the kernels are larger than the initial crop."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, FlexConv):
                m.mask.width.fill_(width)


def assert_close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> None:
    assert a.shape == b.shape
    assert float((a - b).abs().max()) <= tol * max(1.0, float(b.abs().max()))


CASES = {
    "image": (image_net, (2, 3, 12, 12)),
    "separable": (functools.partial(image_net, separable=True), (2, 3, 12, 12)),
    "sequence": (sequence_net, (2, 1, 20)),  # "same" on length 20: even, causal kernels
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_export_matches_model(case: str) -> None:
    build, shape = CASES[case]
    model = build()
    widen_masks(model, 0.3)
    x = torch.randn(shape)
    with torch.no_grad():
        expected = model(x)  # fixes "same" grids
        exported = export(model)
        assert not any(isinstance(m, CKConv) for m in exported.modules())
        assert any(isinstance(m, CKConv) for m in model.modules())  # the original is untouched
        assert_close(exported(x), expected)


def test_export_layer_kinds() -> None:
    torch.manual_seed(0)
    centred_even = CKConv(3, 2, data_dim=2, horizon="same", kernel_net=SMALL_MAGNET).eval()
    x = torch.randn(2, 3, 8, 6)
    with torch.no_grad():
        expected = centred_even(x)  # 6x6 kernel: padding (2, 3) per axis
        exported = export(centred_even)
        assert isinstance(exported[0], nn.ConstantPad2d) and isinstance(exported[1], nn.Conv2d)
        assert_close(exported(x), expected)

    odd = FlexConv(3, 2, data_dim=3, horizon=5, kernel_net=SMALL_MAGNET).eval()
    widen_masks(odd, 1.0)
    exported = export(odd)
    assert isinstance(exported, nn.Conv3d) and exported.padding == (2, 2, 2) and exported.kernel_size == (5, 5, 5)
    x = torch.randn(1, 3, 4, 5, 6)
    with torch.no_grad():
        assert_close(exported(x), odd(x))


def test_export_needs_a_fixed_grid() -> None:
    with pytest.raises(RuntimeError, match="run one forward"):
        export(sequence_net())


def test_onnx_matches() -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = image_net()
    widen_masks(model, 0.3)
    exported = export(model)
    x = torch.randn(2, 3, 12, 12)
    program = torch.onnx.export(exported, (x,), dynamo=True)
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        assert_close(torch.from_numpy(out), model(x))


def test_compile_matches() -> None:
    model = sequence_net()
    x = torch.randn(2, 1, 20)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(export(model))
        assert_close(compiled(x), expected)


def test_change_resolution_resamples_the_continuous_kernel() -> None:
    torch.manual_seed(0)
    layer = FlexConv(2, 3, data_dim=2, horizon=17, kernel_net=SMALL_MAGNET)
    with torch.no_grad():
        layer.mask.width.fill_(0.3)  # crop |x| < 0.64: 11 of 17 taps, 21 of 33 (same extent)
        before = layer.make_kernel().double()
    assert change_resolution(layer, source=16, target=32) is layer
    assert layer.grid_sizes() == (33, 33)
    assert float(layer.kernel_scale) == pytest.approx(0.25)
    with torch.no_grad():
        after = layer.make_kernel().double()
    assert tuple(before.shape[2:]) == (11, 11) and tuple(after.shape[2:]) == (21, 21)
    assert_close(after[..., ::2, ::2], before * 0.25, tol=1e-5)
    # the new grid and scale are in the state dict
    fresh = FlexConv(2, 3, data_dim=2, horizon=17, kernel_net=SMALL_MAGNET)
    fresh.load_state_dict(layer.state_dict())
    assert fresh.grid_sizes() == (33, 33) and float(fresh.kernel_scale) == pytest.approx(0.25)


def test_change_resolution_of_a_network_and_in_1d() -> None:
    model = image_net()
    change_resolution(model, source=8, target=16)  # 9 -> 17
    layers = [m for m in model.modules() if isinstance(m, CKConv)]
    assert all(m.grid_sizes() == (17, 17) and float(m.kernel_scale) == pytest.approx(0.25) for m in layers)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 16, 16)).shape == (1, 5)
    layer = CKConv(1, 1, data_dim=1, horizon=9, kernel_net=SMALL_MAGNET)
    change_resolution(layer, source=2, target=1)  # 9 -> 5, kernel x2
    assert layer.grid_sizes() == (5,) and float(layer.kernel_scale) == pytest.approx(2.0)


def test_change_resolution_errors() -> None:
    layer = CKConv(1, 1, data_dim=2, horizon=9, kernel_net=SMALL_MAGNET)
    with pytest.raises(ValueError, match="not an integer"):
        change_resolution(layer, source=3, target=4)  # 8 * 4 / 3
    with pytest.raises(RuntimeError, match="run one forward"):
        change_resolution(sequence_net(), source=1, target=2)
    # a model without continuous kernels (a plain CNN baseline) is left as it is
    plain = nn.Linear(2, 2)
    assert change_resolution(plain, source=1, target=2) is plain


# =============================================================================================
# The models of the FlexConv paper's configs, at small width: export, ONNX, change_resolution.
def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    a, b = a.detach().double(), b.detach().double()
    assert a.shape == b.shape
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def _flexnet(config: FlexNetConfig, widths: dict[str, object] | None = None) -> FlexNet:
    torch.manual_seed(0)
    model = FlexNet(config).eval()
    with torch.no_grad():
        for name, width in (widths or {}).items():
            model.get_submodule(name).mask.width.copy_(torch.as_tensor(width, dtype=torch.float32))
    return model


def flexnet_2d() -> FlexNet:
    config = FlexNetConfig(in_channels=3, num_classes=10, hidden_channels=8, num_blocks=2)
    # wider masks on some layers: kernels larger than 5x5, one of them rectangular
    return _flexnet(config, {"stem.0": 0.2, "blocks.1.conv1": (0.15, 0.3)})


def flexnet_tcn() -> FlexNet:
    config = FlexNetConfig(
        in_channels=1,
        num_classes=10,
        data_dim=1,
        block="tcn",
        head="last",
        hidden_channels=8,
        num_blocks=2,
        conv=ConvConfig(horizon=41),
    )
    return _flexnet(config, {"blocks.0.conv1": 0.3, "blocks.1.conv2": 0.6})


def flexnet_separable() -> FlexNet:
    config = FlexNetConfig(
        in_channels=3, num_classes=10, hidden_channels=8, num_blocks=2, conv=ConvConfig(separable=True)
    )
    return _flexnet(config, {"stem.0": 0.25, "blocks.0.conv2": 0.15})


def flexnet_ckconv() -> FlexNet:
    config = FlexNetConfig(
        in_channels=3, num_classes=10, hidden_channels=8, num_blocks=2, conv=ConvConfig(type="CKConv", horizon=11)
    )
    return _flexnet(config)


PAPER_MODELS = {
    "2d": (flexnet_2d, (2, 3, 16, 16)),
    "tcn": (flexnet_tcn, (2, 1, 50)),
    "separable": (flexnet_separable, (2, 3, 16, 16)),
    "ckconv": (flexnet_ckconv, (2, 3, 16, 16)),
}


def _convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]


@pytest.mark.parametrize("case", sorted(PAPER_MODELS))
def test_export_of_paper_models(case: str) -> None:
    build, shape = PAPER_MODELS[case]
    model = build()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(x)
        exported = export(model)
        out = exported(x)
    assert rel_error(out, expected) <= 1e-5
    assert not any(isinstance(m, CKConv) for m in exported.modules())
    assert not exported.training

    layers = {name: m for name, m in model.named_modules() if isinstance(m, CKConv)}
    sizes = set()
    for name, layer in layers.items():
        ksize = layer.effective_kernel_size()
        sizes.add(max(ksize))
        convs = _convs(exported.get_submodule(name))
        kernel = layer.make_kernel().detach()
        if layer.separable:  # depthwise (in, 1, *K) then pointwise (out, in, 1, ...)
            depthwise, pointwise = convs
            assert depthwise.groups == layer.in_channels
            assert tuple(depthwise.weight.shape) == (layer.in_channels, 1, *ksize)
            assert tuple(pointwise.weight.shape) == (layer.out_channels, layer.in_channels) + (1,) * layer.data_dim
        else:
            (conv,) = convs
            assert tuple(conv.weight.shape) == (layer.out_channels, layer.in_channels, *ksize)
            depthwise = conv
        assert torch.equal(depthwise.weight, kernel), name
    if case != "ckconv":
        assert max(sizes) > 5, "widened masks should give kernels larger than 5 taps"
        assert min(sizes) < max(sizes)
    else:
        assert sizes == {11}


def _onnx_run(exported: nn.Module, x: torch.Tensor, tmp_path) -> torch.Tensor:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = tmp_path / "model.onnx"
    try:
        torch.onnx.export(exported, (x,), str(path), dynamo=False)
    except (ImportError, ModuleNotFoundError) as error:
        pytest.skip(f"the TorchScript ONNX exporter needs a missing package: {error}")
    except TypeError:  # a torch without the dynamo switch / TorchScript exporter
        try:
            torch.onnx.export(exported, (x,), str(path), dynamo=True)
        except (ImportError, ModuleNotFoundError) as error:
            pytest.skip(f"the dynamo ONNX exporter needs a missing package: {error}")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(out)


@pytest.mark.parametrize("case", ["2d", "tcn"])
def test_onnx_runtime_matches_paper_models(case: str, tmp_path) -> None:
    build, shape = PAPER_MODELS[case]
    model = build()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model(x)
        exported = export(model)
    assert rel_error(_onnx_run(exported, x, tmp_path), expected) <= 1e-4


def test_export_of_unfixed_grid_layer() -> None:
    layer = FlexConv(2, 3, data_dim=2, horizon="same", kernel_net=SMALL_MAGNET)
    with pytest.raises(RuntimeError, match="no grid yet"):
        export(layer)
    with pytest.raises(RuntimeError, match="no grid yet"):
        export(nn.Sequential(layer, nn.ReLU()))
    with torch.no_grad():
        layer(torch.randn(1, 2, 7, 7))
    assert isinstance(export(layer), nn.Conv2d)


# ---------------------------------------------------------------------------------------------
# change_resolution.
def _layer_17(dtype=torch.float64, cropping: bool = False) -> FlexConv:
    torch.manual_seed(0)
    layer = FlexConv(
        2, 3, data_dim=2, horizon=17, dtype=dtype, mask=functools.partial(GaussianMask, dynamic_cropping=cropping)
    )
    with torch.no_grad():
        layer(torch.randn(1, 2, 16, 16, dtype=dtype))
    return layer


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-6), (torch.float32, 1e-4)])
def test_change_resolution_without_cropping(dtype, tol) -> None:
    layer = _layer_17(dtype)
    with torch.no_grad():
        before = layer.make_kernel()
    assert before.shape == (3, 2, 17, 17)
    change_resolution(layer, 16, 32)
    assert layer.grid_sizes() == (33, 33)
    assert layer.grid_size.tolist() == [33, 33]
    assert float(layer.kernel_scale) == 0.25
    with torch.no_grad():
        after = layer.make_kernel()
    assert after.shape == (3, 2, 33, 33)
    assert rel_error(after[..., ::2, ::2], 0.25 * before) <= tol
    # the layer runs on the target resolution with its new kernel
    with torch.no_grad():
        assert layer(torch.randn(1, 2, 32, 32, dtype=dtype)).shape == (1, 3, 32, 32)


def test_change_resolution_keeps_the_cache_fresh() -> None:
    layer = _layer_17().eval()
    with torch.no_grad():
        old = layer.kernel()
        change_resolution(layer, 16, 32)
        new = layer.kernel()
        assert new is not old and new.shape == (3, 2, 33, 33)
        assert torch.equal(new, layer.make_kernel())


def test_change_resolution_non_integer() -> None:
    layer = _layer_17()
    with pytest.raises(ValueError, match="not an integer"):
        change_resolution(layer, 15, 32)  # 16 * 32 / 15
    assert layer.grid_sizes() == (17, 17) and float(layer.kernel_scale) == 1.0  # left untouched


@pytest.mark.parametrize("source, target", [(0, 32), (16, 0), (-16, 32), (16, -32)])
def test_change_resolution_non_positive(source, target) -> None:
    layer = _layer_17()
    with pytest.raises(ValueError, match="resolutions must be positive"):
        change_resolution(layer, source, target)


def test_change_resolution_is_all_or_nothing() -> None:
    """A layer that cannot be re-sampled must not leave the others re-sampled (16 -> 4: 17 taps -> 5, 11 -> 3.5)."""
    torch.manual_seed(0)
    model = nn.Sequential(FlexConv(2, 3, data_dim=2, horizon=17), FlexConv(3, 3, data_dim=2, horizon=11))
    with pytest.raises(ValueError, match="not an integer"):
        change_resolution(model, 16, 4)
    assert [m.grid_sizes() for m in model] == [(17, 17), (11, 11)]
    assert [float(m.kernel_scale) for m in model] == [1.0, 1.0]


def test_change_resolution_unfixed_same_grid() -> None:
    model = nn.Sequential(FlexConv(2, 3, data_dim=2, horizon=17), FlexConv(3, 3, data_dim=2, horizon="same"))
    with pytest.raises(RuntimeError, match="no grid yet"):
        change_resolution(model, 16, 32)
    # nothing was changed before the error
    assert model[0].grid_sizes() == (17, 17) and float(model[0].kernel_scale) == 1.0


def test_change_resolution_state_dict_round_trip() -> None:
    config = FlexNetConfig(in_channels=3, num_classes=10, hidden_channels=8, num_blocks=2, conv=ConvConfig(horizon=17))
    model = _flexnet(config, {"stem.0": 0.3})
    x16 = torch.randn(2, 3, 16, 16)
    x32 = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model(x16)
    change_resolution(model, 16, 32)
    with torch.no_grad():
        expected = model(x32)
    state = model.state_dict()

    torch.manual_seed(42)
    fresh = FlexNet(config).eval()
    with torch.no_grad():
        assert not torch.equal(fresh(x32), expected)
    fresh.load_state_dict(state)
    layers = [m for m in fresh.modules() if isinstance(m, CKConv)]
    assert all(m.grid_sizes() == (33, 33) and float(m.kernel_scale) == 0.25 for m in layers)
    with torch.no_grad():
        assert rel_error(fresh(x32), expected) <= 1e-6


def test_reestimate_batch_norm_replaces_the_statistics_by_those_of_the_inputs() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 2, 3)
    model = nn.Sequential(conv, nn.BatchNorm2d(2, momentum=0.3), nn.Dropout(0.5))
    model[1].running_mean.fill_(7.0)  # statistics of another input distribution
    model[1].running_var.fill_(9.0)
    model[1].num_batches_tracked.fill_(500)  # ... after training
    batches = [5.0 + 2.0 * torch.randn(8, 1, 6, 6) for _ in range(3)]

    reestimate_batch_norm(model, iter(batches))

    with torch.no_grad():
        outputs = [conv(x).transpose(0, 1).reshape(2, -1) for x in batches]  # (channels, values) per batch
    want_mean = torch.stack([o.mean(1) for o in outputs]).mean(0)  # the average over the batches, not a moving one
    want_var = torch.stack([o.var(1) for o in outputs]).mean(0)
    torch.testing.assert_close(model[1].running_mean, want_mean)
    torch.testing.assert_close(model[1].running_var, want_var)
    assert not model.training and not model[1].training and model[1].momentum == 0.3
    with pytest.raises(ValueError, match="no input batch"):
        reestimate_batch_norm(model, iter([]))
