"""Mixed precision (bf16 autocast, as used on GPUs) runs through the FlexConv paths on CPU too."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import tiny_overrides

from flexconv.nn import FlexConv
from flexconv.train.commands import train
from flexconv.train.config import compose_config


def test_bf16_mixed_training_follows_float32_training(tmp_path: Path) -> None:
    """Two steps from the same seed under bf16 autocast and in float32: the arithmetic differs (the weights
    are not the same bits), the training does not (the test losses agree to a few per cent)."""
    runs = {
        p: train(compose_config(tiny_overrides(tmp_path / p, f"trainer.precision={p}")))
        for p in ("32-true", "bf16-mixed")
    }
    weights = [
        torch.load(r["last_checkpoint"], map_location="cpu", weights_only=False)["state_dict"] for r in runs.values()
    ]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0]), "bf16-mixed computed in float32"
    loss32, loss16 = runs["32-true"]["test/loss"], runs["bf16-mixed"]["test/loss"]
    assert abs(loss16 - loss32) < 0.05 * loss32


def test_fft_path_under_bf16_autocast_returns_finite_output() -> None:
    layer = FlexConv(4, 4, data_dim=1, horizon=129, conv_method="fft")
    x = torch.randn(2, 4, 128)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    reference = layer(x)
    assert torch.isfinite(out).all()
    assert float((out.float() - reference).abs().max()) < 0.05 * float(reference.abs().max())
