"""Mixed precision (bf16 autocast, as used on GPUs) runs through the FlexConv paths on CPU too."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from conftest import tiny_overrides
from flexconv.nn import FlexConv
from flexconv.train.commands import train
from flexconv.train.config import compose_config


def test_bf16_mixed_training_runs(tmp_path: Path) -> None:
    result = train(compose_config(tiny_overrides(tmp_path / "run", "trainer.precision=bf16-mixed")))
    assert math.isfinite(result["test_acc"])


def test_fft_path_under_bf16_autocast_returns_finite_output() -> None:
    layer = FlexConv(4, 4, data_dim=1, horizon=129, conv_method="fft")
    x = torch.randn(2, 4, 128)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    reference = layer(x)
    assert torch.isfinite(out).all()
    assert float((out.float() - reference).abs().max()) < 0.05 * float(reference.abs().max())
