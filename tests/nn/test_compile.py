"""Compiled training: every layer family under torch.compile(fullgraph=True), equal to eager, with a bounded
number of recompiles while the masks widen (flexconv.nn.static)."""

from __future__ import annotations

import functools

import pytest
import torch
import torch._dynamo
import torch._dynamo.testing
from torch import nn

from flexconv.models.conv_config import ConvConfig
from flexconv.models.flexnet import FlexNet, FlexNetConfig
from flexconv.nn import CKConv, FlexConv, GaussianMask, MAGNet, ReLUDropout, StaticCrops, recording_kernels
from flexconv.nn.antialias import AntiAliasing
from flexconv.nn.static import compile_options, ladder_size
from flexconv.train.module import kernel_norm_penalty

# Small instances of every family: (FlexNetConfig options, input shape). Kernel networks are small so that
# tracing stays quick; the default MAGNet is traced by the inductor test.
MAGNET = {"name": "MAGNet", "hidden_channels": 4, "num_layers": 1}
FAMILIES = {
    "flexnet_2d": (dict(data_dim=2, conv=ConvConfig(horizon=9, kernel_net=MAGNET)), (2, 2, 9, 9)),
    "flextcn_1d_causal": (
        dict(data_dim=1, block="tcn", head="last", conv=ConvConfig(horizon="same", kernel_net=MAGNET)),
        (2, 2, 16),
    ),
    "flextcn_1d_fft": (
        dict(
            data_dim=1, block="tcn", head="last", conv=ConvConfig(horizon="full", conv_method="fft", kernel_net=MAGNET)
        ),
        (2, 2, 16),
    ),
    "ckcnn_2d": (
        dict(
            data_dim=2,
            conv=ConvConfig(type="CKConv", horizon=9, kernel_net={"name": "SIREN", "omega_0": 30.0, "num_layers": 2}),
        ),
        (2, 2, 9, 9),
    ),
    "cktcn_1d": (
        dict(data_dim=1, block="tcn", head="last", conv=ConvConfig(type="CKConv", horizon="same", kernel_net=MAGNET)),
        (2, 2, 16),
    ),
    "separable_2d": (dict(data_dim=2, conv=ConvConfig(horizon=9, separable=True, kernel_net=MAGNET)), (2, 2, 9, 9)),
    "flexnet_3d": (dict(data_dim=3, conv=ConvConfig(horizon=5, kernel_net=MAGNET)), (2, 2, 5, 5, 5)),
}


def small_net(options: dict, seed: int = 0) -> FlexNet:
    torch.manual_seed(seed)
    config = FlexNetConfig(in_channels=2, num_classes=3, hidden_channels=4, num_blocks=1, dropout=0.0, **options)
    net = FlexNet(config)
    for module in net.modules():
        if isinstance(module, GaussianMask):
            module.width.data.fill_(0.3)  # several taps, so that the crop and its zeroed taps matter
        if isinstance(module, CKConv) and module.bias is not None:
            # away from 0, where the kernel-norm penalty's ||bias|| has no stable gradient (b / ||b||)
            module.bias.data.uniform_(0.5, 1.0)
    return net


def loss_fn(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A training loss with both regularisers (kernel norm from the recorded kernels, anti-aliasing)."""
    with recording_kernels(net) as kernels:
        out = net(x)
    loss = nn.functional.cross_entropy(out, y) + 1e-2 * kernel_norm_penalty(net, kernels)
    if all(hasattr(m.kernel_net, "frequency_bounds") and m.kernel_net.frequency_bounds() is not None for m in kernels):
        loss = loss + AntiAliasing(factor=1e-3)(net)
    return loss


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, backend: str | None) -> list[float]:
    """``steps`` SGD steps (not Adam, which turns the rounding noise of the zero gradients of biases before a
    BatchNorm into whole steps); with a backend, the loss (forward and backward) runs under
    torch.compile(fullgraph=True), and with inductor the optimiser step under torch.compile too (torch's
    optimisers break their graph around the step on purpose, pytorch/pytorch#104053: no fullgraph there)."""
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    crops = StaticCrops(net)
    compiled = backend is not None
    loss_of = torch.compile(loss_fn, fullgraph=True, backend=backend) if compiled else loss_fn
    step = torch.compile(optimizer.step) if backend == "inductor" else optimizer.step
    losses = []
    for _ in range(steps):
        if compiled:
            crops.refresh()
        optimizer.zero_grad()
        loss = loss_of(net, x, y)
        loss.backward()
        step()
        losses.append(loss.item())
    return losses


# AOTAutograd traces forward and backward (what fullgraph and "no host read" depend on) without generating
# code; inductor, which takes minutes to build a FlexNet's kernels on a small CPU, builds one family here.
CASES = [(family, "aot_eager") for family in sorted(FAMILIES)] + [
    pytest.param("flextcn_1d_fft", "inductor", marks=pytest.mark.slow)
]


@pytest.mark.parametrize("family, backend", CASES)
def test_compiled_training_equals_eager(family, backend):
    options, shape = FAMILIES[family]
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 2])
    torch._dynamo.reset()
    eager, compiled = small_net(options), small_net(options)
    eager(x), compiled(x)  # fixes "same"/"full" grids
    eager_losses = train(eager, x, y, 2, backend=None)
    compiled_losses = train(compiled, x, y, 2, backend=backend)
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-4, abs=1e-5)
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        assert torch.allclose(p, q, rtol=1e-3, atol=1e-5), name


@pytest.mark.parametrize("causal, grid, crop_margin", [(False, 9, 0), (False, 8, 1), (True, 16, 0), (True, 15, 1)])
def test_static_crop_equals_exact_crop(causal, grid, crop_margin):
    """Eagerly, in float64, the static crop (wider sizes + zeroed taps) gives the exact crop's outputs and gradients."""
    data_dim = 1 if causal else 2
    mask = functools.partial(GaussianMask, crop_margin=crop_margin)
    layer = FlexConv(
        2,
        3,
        data_dim=data_dim,
        causal=causal,
        horizon=grid if grid % 2 else "same",
        mask=mask,
        conv_method="spatial",
        dtype=torch.float64,
    )
    x = torch.randn(2, 2, *([grid] * data_dim), dtype=torch.float64)
    layer(x)
    widths = torch.linspace(0.02, 1.2, 9, dtype=torch.float64)
    for width in widths:
        layer.mask.width.data.fill_(float(width))
        layer.mask.mean.data.fill_(0.9 if causal else 0.1)
        layer.set_crop_sizes(None)
        StaticCrops(layer).refresh()  # the ladder size of this width
        results = []
        for static in (False, True):
            layer.static_crop = static
            layer.zero_grad()
            out = layer(x)
            out.square().sum().backward()
            results.append((out, [p.grad.clone() for p in layer.parameters()]))
        layer.static_crop = False
        (out_exact, grads_exact), (out_static, grads_static) = results
        assert torch.allclose(out_static, out_exact, rtol=1e-12, atol=1e-12)
        for g_exact, g_static in zip(grads_exact, grads_static):
            assert torch.allclose(g_static, g_exact, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("family", ["flextcn_1d_fft", "flexnet_2d"])
def test_compiled_training_with_dropout_equals_eager(family):
    """With dropout on, compiled steps draw eager's masks (flexconv::keep_mask) from the same generator state, so
    losses and parameters stay equal to eager's, as without dropout."""
    options, shape = FAMILIES[family]
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 2])
    torch._dynamo.reset()
    eager, compiled = small_net(options), small_net(options)
    for net in (eager, compiled):
        for module in net.modules():
            if isinstance(module, (nn.Dropout, ReLUDropout)):
                module.p = 0.3
    eager(x), compiled(x)  # fixes "same"/"full" grids
    torch.manual_seed(5)
    eager_losses = train(eager, x, y, 2, backend=None)
    torch.manual_seed(5)
    compiled_losses = train(compiled, x, y, 2, backend="aot_eager")
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-5, abs=1e-6)
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), name


def test_compiled_eval_and_cached_kernel_path():
    options, shape = FAMILIES["flexnet_2d"]
    net = small_net(options).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        expected = net(x)  # the cached-kernel path, eagerly
        StaticCrops(net).refresh()
        torch._dynamo.reset()
        out = torch.compile(net, fullgraph=True, backend="aot_eager")(x)
    assert torch.allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_compiled_dropout_keeps_one_minus_p_and_scales():
    torch._dynamo.reset()
    torch.manual_seed(0)
    drop = ReLUDropout(0.25)
    x = torch.rand(64, 1000) + 0.5  # positive: relu keeps everything
    x.requires_grad_(True)
    y = torch.compile(drop, fullgraph=True)(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.01
    assert torch.allclose(y[kept], x.detach()[kept] / 0.75)
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)


def test_ladder_sizes():
    assert [ladder_size(k, 31, causal=True) for k in (1, 2, 3, 5, 9, 17, 31)] == [1, 2, 4, 8, 16, 31, 31]
    assert [ladder_size(k, 33, causal=False) for k in (1, 3, 5, 7, 11, 19, 33)] == [1, 3, 5, 9, 17, 33, 33]
    assert [ladder_size(k, 8, causal=False) for k in (2, 4, 6, 8)] == [2, 4, 8, 8]


def test_recompiles_stay_bounded_while_masks_widen():
    """Four layers whose masks widen to the whole grid at different times (12 ladder steps in all): at most 8
    recompiles."""
    torch.manual_seed(0)
    kernel_net = functools.partial(MAGNet, hidden_channels=2, num_layers=1)
    layers = [FlexConv(1, 1, data_dim=1, horizon=63, kernel_net=kernel_net, conv_method="spatial") for _ in range(4)]
    net = nn.Sequential(*layers)
    x = torch.randn(1, 1, 63)
    net(x)
    crops = StaticCrops(net)
    crops.refresh()
    counter = torch._dynamo.testing.CompileCounter()
    torch._dynamo.reset()
    compiled = torch.compile(net, backend=counter, fullgraph=True)
    steps = 30
    with torch._dynamo.config.patch(recompile_limit=1000):
        for step in range(steps):
            for i, layer in enumerate(layers):
                # layer i starts widening at step 4 i and reaches the whole grid 12 steps later
                progress = min(max((step - 4 * i) / 12, 0.0), 1.0)
                layer.mask.width.data.fill_(0.01 + 2.0 * progress)
            crops.refresh()
            with torch.no_grad():
                out, expected = compiled(x), net(x)
            assert torch.allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert all(layer._crop_sizes == (63,) for layer in layers)
    assert counter.frame_count <= 1 + 8


def test_compile_options_keep_eager_layout_around_fft_convolutions():
    """With compile_options, a CPU graph holding an nn.Conv2d keeps its activations contiguous, so inductor
    copies nothing into or out of the FFT convolution operator; inductor's default layout optimisation stores
    them channels-last and transposes (the case the options exist for)."""
    from torch._inductor.utils import run_and_get_code

    torch.manual_seed(0)
    kernel_net = functools.partial(MAGNet, hidden_channels=4, num_layers=1)
    net = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1), FlexConv(8, 8, horizon=9, kernel_net=kernel_net, conv_method="fft"), nn.ReLU()
    )
    x = torch.randn(2, 2, 9, 9)
    expected = net(x).detach()  # fixes the grid
    StaticCrops(net).refresh()
    transposes = {}
    for name, options in (("default", {}), ("flexconv", compile_options())):
        torch._dynamo.reset()
        compiled = torch.compile(net, fullgraph=True, options=options)
        with torch.no_grad():
            out, code = run_and_get_code(compiled, x)
        assert torch.allclose(out, expected, rtol=1e-4, atol=1e-5)
        transposes[name] = sum(text.count("transpose_mxn") + text.count("channels_last") for text in code)
    assert transposes["default"] > 0
    assert transposes["flexconv"] == 0
    assert compile_options("reduce-overhead") == {"triton.cudagraphs": True, "layout_optimization": False}
