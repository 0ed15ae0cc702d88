"""Shared helpers for the training tests: tiny MNIST-1D runs in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("lightning")
pytest.importorskip("hydra")

torch.set_num_threads(1)  # the CPU is shared: spinning OpenMP threads make tiny runs 10x slower

TINY_MODEL = ["model.hidden_channels=8", "model.num_blocks=1", "model.conv.kernel_net.hidden_channels=8"]


def tiny_overrides(run_dir: Path, *extra: str) -> list[str]:
    """main_job on 64 MNIST-1D samples, batch 16, 2 steps, no progress bar."""
    return [
        "experiment=main_job",
        f"run_dir={run_dir}",
        "data.batch_size=16",
        "data.limit_train=64",
        "data.limit_test=32",
        "trainer.max_epochs=1",
        "trainer.max_steps=2",
        "trainer.limit_val_batches=1",
        "trainer.enable_progress_bar=false",
        "trainer.log_every_n_steps=1",
        "logger.tensorboard=false",
        "num_threads=1",
        *TINY_MODEL,
        *extra,
    ]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own folder (runs/, data/ land there)."""
    monkeypatch.chdir(tmp_path)
