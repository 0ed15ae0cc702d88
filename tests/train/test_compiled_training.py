"""``compile=true``: a tiny run trains compiled, writes plain checkpoints that evaluate and resume, and a step
that cannot compile stops with one message."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from flexconv.train.commands import evaluate, train
from flexconv.train.config import compose_config
from flexconv.train.module import TaskModule


@pytest.fixture(autouse=True)
def _quick_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """AOTAutograd without code generation: the same graphs (fullgraph, no host reads) in seconds, not minutes."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    torch._dynamo.reset()


def test_compiled_run_checkpoints_evaluate_and_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    results = train(compose_config(tiny_overrides(run_dir, "compile=true")))
    assert results["test_acc"] is not None
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["state_dict"] and not any("_orig_mod" in key for key in checkpoint["state_dict"])
    assert evaluate(run_dir / "checkpoints" / "last.ckpt", ["data.limit_test=32"])["test_acc"] == pytest.approx(
        results["test_acc"]
    )
    resumed = train(compose_config(tiny_overrides(run_dir, "compile=true", "trainer.max_steps=3", f"resume={run_dir}")))
    assert resumed["test_acc"] is not None


def test_a_step_that_cannot_compile_stops_with_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    losses = TaskModule._losses

    def with_host_read(self, x, y, train):
        loss, metrics = losses(self, x, y, train)
        if loss.item() > -1:  # a host read: fullgraph cannot trace it
            return loss, metrics
        return loss, metrics

    monkeypatch.setattr(TaskModule, "_losses", with_host_read)
    with pytest.raises(RuntimeError, match="compile=true: torch.compile cannot compile FlexNet's train step"):
        train(compose_config(tiny_overrides(tmp_path / "run", "compile=true")))
