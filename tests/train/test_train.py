"""Two-step training runs: train(cfg) end to end, one run per model family, evaluate, the CLI."""

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import tiny_overrides
from torch.utils.data import DataLoader, TensorDataset

from flexconv.cli import main as cli
from flexconv.train.commands import evaluate, train
from flexconv.train.config import compose_config
from flexconv.train.module import TaskModule, cosine_with_warmup, topk_accuracy


def test_train_writes_a_complete_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    results = train(compose_config(tiny_overrides(run_dir, "trainer.max_steps=-1", "logger.tensorboard=true")))
    assert 0.0 <= results["test_acc"] <= 1.0
    assert results["params"] > 0 and results["wall_time_s"] > 0 and results["run_dir"] == str(run_dir)
    assert 0 < results["step_time_s"] <= results["wall_time_s"]  # wall time over the optimiser steps
    for name in (
        "config.yaml",
        "metrics.csv",
        "summary.json",
        "kernel_sizes.png",
        "kernels.png",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
    ):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tensorboard").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["test_acc"] == results["test_acc"] and summary["kernel_extents"]

    evaluated = evaluate(run_dir / "checkpoints" / "best.ckpt", ["data.limit_test=32"])
    assert evaluated["test_acc"] == pytest.approx(results["test_acc"])


def test_evaluate_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = tmp_path / "run"
    train(compose_config(tiny_overrides(run_dir)))
    cli(["evaluate", str(run_dir / "checkpoints" / "last.ckpt")])
    assert "test_acc" in capsys.readouterr().out


def test_train_command_prints_results(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cli(["train", *tiny_overrides(tmp_path / "run")])
    out = capsys.readouterr().out
    for word in ("test_acc", "params", "wall_time_s", "run_dir"):
        assert word in out


@pytest.mark.parametrize("model", ["cktcn4", "flextcn4_conv3"])
def test_sequence_baselines_train(tmp_path: Path, model: str) -> None:
    overrides = tiny_overrides(tmp_path / "run", f"model={model}", "optim=adam_plateau")
    if model.endswith("_conv3"):  # a plain convolution has no kernel network to shrink
        overrides = [o for o in overrides if not o.startswith("model.conv.kernel_net.")]
    results = train(compose_config(overrides))
    assert 0.0 <= results["test_acc"] <= 1.0
    # The checkpoint holds the baseline asked for: continuous kernels without a mask (CKCNN), or plain
    # convolutions with 3 taps and no kernel network (k=3).
    weights = torch.load(results["last_checkpoint"], map_location="cpu", weights_only=False)["state_dict"]
    kernel_nets = [k for k in weights if ".kernel_net." in k]
    masks = [k for k in weights if ".mask." in k]
    taps = {tuple(w.shape[2:]) for k, w in weights.items() if k.endswith(".weight") and w.dim() == 3} - {(1,)}
    if model.endswith("_conv3"):
        assert not kernel_nets and not masks and taps == {(3,)}
    else:
        assert kernel_nets and not masks


def test_antialiasing_term_is_logged(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(compose_config(tiny_overrides(run_dir, "antialias=gabor_mask")))
    assert "train/antialias_step" in (run_dir / "metrics.csv").read_text().splitlines()[0]


IMAGE_FAMILIES = {
    "flexnet7": {
        "hidden_channels": 4,
        "num_blocks": 1,
        "block_width_factors": [],
        "conv": {"horizon": 9, "kernel_net": {"hidden_channels": 4}},
    },
    "ckcnn7": {
        "hidden_channels": 4,
        "num_blocks": 1,
        "block_width_factors": [],
        "conv": {"horizon": 9, "kernel_net": {"hidden_channels": 4}},
    },
    "flexnet7_conv3": {"hidden_channels": 4, "num_blocks": 1, "block_width_factors": []},
    "resnet32": {"depth": 8},
}


def test_per_step_objective_uses_outputs_at_every_step() -> None:
    """ "per_step" needs a model with forward_steps (B, C, T) -> (B, T, K); a model without one is refused."""
    tiny = {
        "hidden_channels": 4,
        "num_blocks": 1,
        "conv": {"kernel_net": {"hidden_channels": 4}},
        "head": "last",
        "in_channels": 1,
        "num_classes": 10,
    }
    module = TaskModule("flextcn4", tiny, {}, objective="per_step").eval()
    x = torch.randn(2, 1, 40)
    out = module(x)
    assert out.shape == (2, 40, 10)
    assert torch.allclose(out[:, -1], module.model(x), atol=1e-6)  # the "last" head: the output at the last step
    with pytest.raises(ValueError, match="forward_steps"):
        TaskModule(
            "resnet32", {**IMAGE_FAMILIES["resnet32"], "in_channels": 3, "num_classes": 10}, {}, objective="per_step"
        )


@pytest.mark.parametrize("name", sorted(IMAGE_FAMILIES))
@pytest.mark.parametrize("scheduler", ["cosine", "multistep"])
def test_image_families_train_two_steps(tmp_path: Path, name: str, scheduler: str) -> None:
    """The LightningModule on synthetic 16x16 images (no dataset files needed)."""
    data = TensorDataset(torch.randn(16, 3, 16, 16), torch.randint(0, 10, (16,)))
    optim = {
        "optimizer": "sgd" if scheduler == "multistep" else "adam",
        "scheduler": scheduler,
        "warmup_epochs": 1,
        "milestones": [1],
    }
    module = TaskModule(name, {**IMAGE_FAMILIES[name], "in_channels": 3, "num_classes": 10}, optim)
    before = [p.detach().clone() for p in module.parameters()]
    trainer = L.Trainer(
        max_steps=2,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        limit_val_batches=0,
    )
    trainer.fit(module, DataLoader(data, batch_size=8))
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_metrics_and_schedule() -> None:
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.0, 0.2]])
    assert topk_accuracy(logits, torch.tensor([1, 2]), 1) == 0.5
    assert topk_accuracy(logits, torch.tensor([1, 2]), 2) == 1.0
    assert cosine_with_warmup(0, 10, 100, 1e-4) == pytest.approx(0.1)
    assert cosine_with_warmup(10, 10, 100, 1e-4) == pytest.approx(1.0)
    assert cosine_with_warmup(100, 10, 100, 1e-4) == pytest.approx(1e-4)


def test_kernel_norm_penalty_reuses_the_kernels_of_the_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    """The training loss's kernel-norm term uses the kernels the forward evaluated: same loss and gradients
    as evaluating every kernel network again, with one kernel evaluation per layer instead of two."""
    from flexconv.nn import CKConv
    from flexconv.train.module import kernel_norm_penalty

    tiny = {
        "hidden_channels": 4,
        "num_blocks": 1,
        "conv": {"kernel_net": {"hidden_channels": 4}},
        "in_channels": 1,
        "num_classes": 10,
    }
    torch.manual_seed(0)
    module = TaskModule("flextcn4", tiny, {"kernel_norm_decay": 0.5}).double()
    x, y = torch.randn(3, 1, 40, dtype=torch.float64), torch.tensor([1, 2, 3])
    module.eval()  # no dropout: both losses see the same network
    module(x)  # fixes the grids

    calls = []
    make_kernel = CKConv.make_kernel
    monkeypatch.setattr(CKConv, "make_kernel", lambda self, *a, **k: calls.append(self) or make_kernel(self, *a, **k))
    loss = module.training_loss(x, y)
    grads = torch.autograd.grad(loss, list(module.parameters()), allow_unused=True)
    layers = [m for m in module.modules() if isinstance(m, CKConv)]
    assert len(calls) == len(layers) == len(set(calls))  # each kernel network evaluated once

    expected = module._task_loss(module(x), y)[0] + 0.5 * kernel_norm_penalty(module.model)  # evaluated again
    assert torch.allclose(loss, expected, rtol=1e-12)
    for got, want in zip(grads, torch.autograd.grad(expected, list(module.parameters()), allow_unused=True)):
        assert (got is None) == (want is None) and (got is None or torch.allclose(got, want, rtol=1e-10, atol=1e-14))
    assert all(layer._kernel_record is None for layer in layers)  # nothing kept after the step
