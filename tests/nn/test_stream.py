"""Streaming inference (flexconv.nn.stream): streamed outputs == full forward, bounded state, errors."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from flexconv.models.registry import build_model, list_models, model_config
from flexconv.nn import CKConv, FlexConv, GaussianMask, PaddedConv, register_stream, stream
from flexconv.nn.stream import Pointwise, TimeLocal

LENGTH = 250
# Mask widths per layer, in order: cropped kernels of 3 to 250 taps on a 250-step grid.
MASK_WIDTHS = [0.01, 0.3, 0.05, 2.0, 0.12, 0.02]


@pytest.fixture(autouse=True)
def one_thread():
    """Single steps are tiny ops: on a shared 2-core machine a second thread made them ~70x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def flextcn(head: str = "last", **conv) -> nn.Module:
    """A small FlexTCN (3 blocks, widths 6, 9, 9: two 1x1 shortcuts) with mixed kernel lengths.

    BatchNorm statistics and the head are randomised so that no layer is close to the identity
    or zero; one convolution is a CKConv (no mask: the whole 250-tap kernel).
    """
    config = model_config(
        "flextcn",
        in_channels=2,
        num_classes=3,
        hidden_channels=6,
        num_blocks=3,
        block_width_factors=[1, 1, 1.5, 2],
        head=head,
        conv={"kernel_net": {"hidden_channels": 8}, **conv},
    )
    model = build_model(config)
    layers = [m for m in model.modules() if isinstance(m, FlexConv)]
    for layer, width in zip(layers, MASK_WIDTHS):
        layer.mask.width.data.fill_(width)
    model.blocks[1].conv1 = CKConv(6, 9, data_dim=1, horizon="same", separable=config.conv.separable)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()
    nn.init.normal_(model.head.weight)
    nn.init.normal_(model.head.bias)
    return model.eval()


def kernel_lengths(model: nn.Module) -> list[int]:
    return [m.effective_kernel_size()[0] for m in model.modules() if isinstance(m, CKConv)]


def per_step_reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """model(x[..., :t + 1]) for every t, from one full forward: (B, K, L)."""
    features = model.features(x)  # (B, C, L)
    if model.config.head == "pool":
        features = features.cumsum(-1) / torch.arange(1, x.shape[-1] + 1)
    return model.head(features.transpose(1, 2)).transpose(1, 2)


def run(s, x: torch.Tensor, chunk: int) -> torch.Tensor:
    return torch.cat([s(part) for part in x.split(chunk, dim=-1)], dim=-1)


@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("head", ["last", "pool"])
def test_streamed_equals_full_forward(head: str, separable: bool) -> None:
    torch.manual_seed(0)
    model = flextcn(head, separable=separable)
    x = torch.randn(2, 2, LENGTH)
    with torch.no_grad():
        full = model(x)  # (B, K): fixes every grid at 250 taps
        reference = per_step_reference(model, x)
    lengths = kernel_lengths(model)
    assert len(set(lengths)) >= 5 and min(lengths) <= 5 and max(lengths) == LENGTH, lengths
    for t in (0, 99, LENGTH - 1):  # the reference is the model on every prefix
        with torch.no_grad():  # to float32 rounding of the output's scale (FFT errors are even in absolute terms)
            prefix = model(x[..., : t + 1])
        assert float((reference[..., t] - prefix).abs().max() / reference.abs().max()) < 1e-5, t
    s = stream(model)
    for chunk in (1, 7, 100):
        s.reset()
        out = run(s, x, chunk)
        assert out.shape == (2, 3, LENGTH)
        assert s.steps == LENGTH
        assert rel_error(out[..., -1], full) < 1e-4, chunk
        assert rel_error(out, reference) < 1e-4, chunk


def test_streamed_equals_full_forward_in_float64() -> None:
    """In float64 the streamed and full computations agree to rounding: the same sums, reordered."""
    torch.manual_seed(6)
    model = flextcn().double()
    x = torch.randn(2, 2, LENGTH, dtype=torch.float64)
    with torch.no_grad():
        reference = per_step_reference(model, x)
    for chunk in (1, 7):
        assert rel_error(run(stream(model), x, chunk), reference) < 1e-12, chunk


SEQUENCE_MODELS = [name for name in list_models() if model_config(name).data_dim == 1]


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_every_registered_sequence_model_streams_or_says_why(name: str) -> None:
    torch.manual_seed(5)
    config = model_config(name)
    model = build_model(config).eval()
    x = torch.randn(2, config.in_channels, 50)
    with torch.no_grad():
        reference = per_step_reference(model, x)  # also fixes "same" grids at 50 taps
    if config.conv.causal is False:  # centred kernels (MNIST-1D): they read future steps
        with pytest.raises(ValueError, match=r"causal=False|only causal 1D"):
            stream(model)
        return
    assert rel_error(run(stream(model), x, 7), reference) < 1e-4


def test_stream_state_is_bounded_after_10000_steps() -> None:
    torch.manual_seed(1)
    model = flextcn()
    batch, steps = 2, 10_000
    with torch.no_grad():
        model(torch.randn(batch, 2, LENGTH))  # fixes the grids
    expected = sum(
        batch * m.in_channels * (m.effective_kernel_size()[0] - 1) for m in model.modules() if isinstance(m, CKConv)
    )
    x = torch.randn(batch, 2, steps)
    s = stream(model)
    s(x[..., :1])
    assert s.state_numel() == expected
    out = run(s, x[..., 1:], 50)
    assert s.steps == steps
    assert s.state_numel() == expected
    for kept in s.root.state():  # no view keeping a longer window alive
        assert kept.untyped_storage().nbytes() == kept.numel() * kept.element_size()
    with torch.no_grad():
        assert rel_error(out[..., -1], model(x)) < 1e-4  # and still exact, past the grid's length


def test_reset_starts_a_new_stream() -> None:
    torch.manual_seed(2)
    model = flextcn()
    x = torch.randn(1, 2, 40)
    with torch.no_grad():
        model(torch.randn(1, 2, LENGTH))
    s = stream(model)
    first = run(s, x, 7)
    s(torch.randn(1, 2, 5))
    s.reset()
    assert s.steps == 0 and s.state_numel() == 0
    assert torch.equal(run(s, x, 7), first)


def causal(in_channels: int = 2, out_channels: int = 2, **kwargs) -> FlexConv:
    """A causal FlexConv of 5 taps (a mask wide enough to keep 5 of the 9 grid positions)."""
    kwargs.setdefault("mask", functools.partial(GaussianMask, init_width=0.5))
    return FlexConv(in_channels, out_channels, data_dim=1, horizon=9, **kwargs)


def test_plain_layers_stream() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(
        causal(2, 4),
        nn.BatchNorm1d(4),
        nn.GELU(),
        nn.Dropout(0.5),
        nn.Conv1d(4, 3, 1),
        CKConv(3, 3, data_dim=1, horizon=5, separable=True),
        nn.Identity(),
    ).eval()
    x = torch.randn(3, 2, 30)
    with torch.no_grad():
        expected = model(x)
    assert rel_error(run(stream(model), x, 4), expected) < 1e-5


def test_plain_conv_tcn_with_layer_norm_streams() -> None:
    torch.manual_seed(4)
    config = model_config(
        "flextcn",
        in_channels=2,
        num_classes=3,
        hidden_channels=5,
        num_blocks=2,
        norm="layer",
        conv={"type": "Conv", "kernel_size": 4, "kernel_net": None, "mask": None},
    )
    model = build_model(config).eval()
    nn.init.normal_(model.head.weight)
    x = torch.randn(2, 2, 60)
    with torch.no_grad():
        reference = per_step_reference(model, x)
    for chunk in (1, 7):
        assert rel_error(run(stream(model), x, chunk), reference) < 1e-5


def test_registered_user_modules_stream() -> None:
    class Gate(nn.Module):  # step by step: x * sigmoid(x)
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.sigmoid(x)

    class Block(nn.Module):  # combines its children step by step
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.gate = causal(), Gate()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.gate(self.conv(x))

    model = nn.Sequential(Block(), Block()).eval()
    with pytest.raises(ValueError, match=r"'0' is a Block, which has no streaming counterpart"):
        stream(model)
    register_stream(Block, TimeLocal)
    with pytest.raises(ValueError, match=r"'0.gate' is a Gate, which has no streaming counterpart"):
        stream(model)
    register_stream(Gate, Pointwise)
    x = torch.randn(2, 2, 30)
    with torch.no_grad():
        expected = model(x)
    assert rel_error(run(stream(model), x, 4), expected) < 1e-5


@pytest.mark.parametrize(
    "model, message",
    [
        (
            nn.Sequential(causal(), causal(mask=functools.partial(GaussianMask, causal=False), causal=False)),
            r"'1' is a FlexConv with data_dim=1, causal=False; only causal 1D",
        ),
        (nn.Sequential(FlexConv(2, 2, data_dim=2, horizon=3)), r"'0' is a FlexConv with data_dim=2"),
        (nn.Sequential(causal(), nn.AvgPool1d(3)), r"'1' is a AvgPool1d, which has no streaming counterpart"),
        (nn.Sequential(causal(), nn.Conv1d(2, 2, 3, padding=1)), r"'1' is a Conv1d with kernel_size=\(3,\)"),
        (nn.Sequential(nn.BatchNorm1d(2, track_running_stats=False)), r"without running statistics"),
        (nn.Sequential(FlexConv(2, 2, data_dim=1, horizon="same")), r"'0' has no kernel grid yet"),
        (nn.LSTM(2, 2), r"the model is a LSTM, which has no streaming counterpart"),
        (
            nn.Sequential(PaddedConv(nn.Conv1d(2, 2, 3), causal=False)),
            r"'0' is a ConstantPad1d\(padding=\(1, 1\).*only causal 1D",
        ),
    ],
)
def test_unstreamable_modules_raise(model: nn.Module, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stream(model.eval())


def test_training_mode_raises() -> None:
    model = nn.Sequential(causal(), nn.Dropout(0.1))
    with pytest.raises(ValueError, match=r"the model is in training mode"):
        stream(model)
    s = stream(model.eval())
    model[1].train()
    with pytest.raises(ValueError, match=r"module '1' is in training mode.*model.eval\(\)"):
        s(torch.randn(1, 2, 3))


def test_bad_chunks_raise() -> None:
    s = stream(nn.Sequential(causal()).eval())
    with pytest.raises(ValueError, match=r"steps >= 1, got dtype torch.float32, shape \(2, 5\)"):
        s(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"steps >= 1, got dtype torch.float32, shape \(1, 2, 0\)"):
        s(torch.randn(1, 2, 0))
    with pytest.raises(ValueError, match=r"'0' expects 2 channels, got chunk shape \(1, 3, 4\)"):
        s(torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match=r"'0' has torch.float32 weights, got a torch.float64 chunk"):
        s(torch.randn(1, 2, 4, dtype=torch.float64))
    s(torch.randn(1, 2, 4))
    with pytest.raises(ValueError, match=r"batch size 2 in a stream of batch size 1; call reset\(\)"):
        s(torch.randn(2, 2, 4))


def test_image_flexnet_raises() -> None:
    model = build_model(model_config("flexnet3")).eval()
    with pytest.raises(ValueError, match="data_dim=2"):
        stream(model)
