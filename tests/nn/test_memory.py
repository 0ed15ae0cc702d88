"""Memory of training steps on the FFT path (issue 13), measured by what autograd keeps.

The tensors saved for the backward are the memory a training step holds from its forward to
its backward; they are counted with ``torch.autograd.graph.saved_tensors_hooks`` (every saved
tensor, custom autograd functions included), one count per storage, so a tensor saved by several
operations counts once. This is deterministic and runs in a fraction of a second on CPU, unlike
resident-memory measurements (``benchmarks/sequence_speed.py`` measures those).
"""

from __future__ import annotations

from functools import partial

import torch

from flexconv.models.registry import get_model
from flexconv.nn import FlexConv
from flexconv.nn import functional as Fc


def saved_storages(fn) -> tuple[dict[int, int], object]:
    """Run ``fn`` and return {storage address: bytes} of every tensor autograd saved, and fn's result."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return storages, result


def _address(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def test_fft_conv_saves_only_its_input_and_kernel():
    x = torch.randn(4, 3, 500, requires_grad=True)
    kernel = torch.randn(5, 3, 500, requires_grad=True)
    bias = torch.randn(5, requires_grad=True)
    saved, out = saved_storages(lambda: Fc.fft_conv(x, kernel, bias, causal=True, save_spectra=False))
    assert set(saved) == {_address(x), _address(kernel)}
    out.sum().backward()  # and the backward works from those alone
    assert x.grad is not None and kernel.grad is not None and bias.grad is not None


def test_save_spectra_keeps_the_spectra_instead():
    x = torch.randn(4, 3, 500, requires_grad=True)
    kernel = torch.randn(5, 3, 500, requires_grad=True)
    saved, out = saved_storages(lambda: Fc.fft_conv(x, kernel, causal=True, save_spectra=True))
    assert _address(x) not in saved and _address(kernel) not in saved
    n_freq = Fc.fft_sizes((500,), (500,), causal=True)[0] // 2 + 1
    assert sorted(saved.values()) == [
        4 * 3 * n_freq * 8,
        5 * 3 * n_freq * 8,
    ]  # complex64 (F, B, C_in), (F, C_in, C_out)
    grads = torch.autograd.grad(out, (x, kernel), torch.ones_like(out))
    expected = torch.autograd.grad(
        Fc.fft_conv(x, kernel, causal=True, save_spectra=False), (x, kernel), torch.ones_like(out)
    )
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b)


def test_default_saves_spectra_up_to_a_size(monkeypatch):
    """SAVE_SPECTRA None: spectra are stored while the input spectrum fits SAVE_SPECTRA_MAX_BYTES."""
    x = torch.randn(4, 3, 500, requires_grad=True)
    kernel = torch.randn(5, 3, 500, requires_grad=True)
    spectrum_bytes = 4 * 3 * (Fc.fft_sizes((500,), (500,), causal=True)[0] // 2 + 1) * 8
    monkeypatch.setattr(Fc, "SAVE_SPECTRA", None)
    for limit, stores in ((spectrum_bytes, True), (spectrum_bytes - 1, False)):
        monkeypatch.setattr(Fc, "SAVE_SPECTRA_MAX_BYTES", limit)
        saved, _ = saved_storages(lambda: Fc.fft_conv(x, kernel, causal=True))
        assert (set(saved) == {_address(x), _address(kernel)}) is not stores, limit


def _flextcn(length: int) -> torch.nn.Module:
    """A two-block FlexTCN (widths 8 and 16) whose kernels span the whole sequence (full-length masks)."""
    torch.manual_seed(0)
    model = get_model(
        "flextcn", hidden_channels=8, num_blocks=2, block_width_factors=[1.0, 2], conv={"conv_method": "fft"}
    )
    with torch.no_grad():
        model(torch.randn(1, 1, length))  # fixes the grids at `length` taps
        for layer in model.modules():
            if isinstance(layer, FlexConv):
                layer.mask.width.fill_(100.0)
    return model


def test_long_flextcn_step_stays_under_a_memory_budget_per_sequence(monkeypatch):
    """A 1,000-step FlexTCN with full-length kernels keeps at most 0.37 MB per sequence for its backward.

    Per sequence = the difference between batches of 24 and 8, over 16: what grows with the batch
    (the kernel networks' share does not). Measured: 0.32 MB. What the network keeps: convolution
    outputs (for the normalisations), normalised values, and the outputs of the fused ReLU + dropout
    (which are also the next convolutions' inputs); 8 and 16 channels of 1,000 float32 steps. A
    separate ReLU and dropout (the ReLU's output and the dropout's mask as well) kept 0.42 MB; the
    earlier FFT path (autograd through rfftn, einsum and irfftn), every layer's complex input
    spectrum and einsum's copies besides: 0.84 MB.
    """
    length = 1000
    model = _flextcn(length)
    monkeypatch.setattr(Fc, "SAVE_SPECTRA", False)  # the memory side of the switch
    totals = {}
    for batch in (8, 24):
        saved, out = saved_storages(partial(model, torch.randn(batch, 1, length)))
        totals[batch] = sum(saved.values())
    per_sequence = (totals[24] - totals[8]) / 16
    assert per_sequence <= 0.37e6, f"the step keeps {per_sequence / 1e6:.2f} MB per sequence for its backward"
    out.sum().backward()  # the step completes from what was kept
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
