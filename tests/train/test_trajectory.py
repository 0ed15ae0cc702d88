"""The training recipe is the original's: replay every ``trajectory_*.npz`` step by step.

Each trajectory file (tests/data/reference, computed by the original code; newer ones are picked
up from ../shared/reference) holds an original run config, its initial state, one batch per step,
the original's total loss of every step (before that step's update) and the state after the last
step. We replay the steps through the module ``flexconv train`` uses, built by
``flexconv.compat.module_from_original``: its ``training_loss`` (task loss + kernel-norm decay +
anti-aliasing) and its ``configure_optimizers()`` (Adam groups with the mask lr factor). Loss and
final state must match in float64 to 1e-8 relative, or 1e-6 where the anti-aliasing term is on
(the original keeps its frequencies in float32, see the reference README).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from flexconv.compat import convert_state_dict, module_from_original
from flexconv.nn import CKConv
from flexconv.train.module import TaskModule, kernel_norm_penalty

REPOSITORY_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
SHARED_DIR = Path(
    os.environ.get("FLEXCONV_REFERENCE_DIR", Path(__file__).resolve().parents[3] / "shared" / "reference")
)
EXACT = 1e-8
FLOAT32_FREQUENCIES = 1e-6


def trajectory_files() -> list[Path]:
    found = {p.name: p for p in sorted(SHARED_DIR.glob("trajectory_*.npz"))}
    found.update({p.name: p for p in sorted(REPOSITORY_DIR.glob("trajectory_*.npz"))})
    return [found[name] for name in sorted(found)]


FILES = trajectory_files()


def load(path: Path) -> tuple[dict, dict[str, torch.Tensor], np.lib.npyio.NpzFile]:
    data = np.load(path)
    config = json.loads(str(data["config"]))
    state = {k[len("state/") :]: torch.as_tensor(data[k]) for k in data.files if k.startswith("state/")}
    return config, state, data


def rel_error(ours: torch.Tensor, reference: np.ndarray | torch.Tensor) -> float:
    reference_t = torch.as_tensor(reference, dtype=torch.float64)
    ours = ours.detach().to(torch.float64).reshape(reference_t.shape)
    return float((ours - reference_t).abs().max() / reference_t.abs().max().clamp_min(1e-300))


def tolerance(config: dict) -> float:
    return FLOAT32_FREQUENCIES if config["kernel"].get("regularize") else EXACT


def test_the_repository_holds_both_trajectories() -> None:
    assert {p.name for p in FILES} >= {"trajectory_flextcn_seq.npz", "trajectory_flexnet2d_antialias.npz"}


def null_direction(model: torch.nn.Module) -> set[str]:
    """State entries the loss does not determine: biases of continuous convolutions that feed a
    BatchNorm (training-mode BatchNorm subtracts the batch mean, so their true gradient is 0) and
    those BatchNorms' running means (which accumulate the biases).

    Their computed gradient is rounding noise (~1e-17) that depends on the last bit of every
    operation before it; Adam turns it into steps of up to ``lr`` (with kernel-norm decay, whose
    gradient b/||b|| has the noise's direction), so no re-implementation that is not bit-identical
    can reproduce them. They are checked against bounds instead.
    """
    names = set()
    for prefix, module in model.named_modules():
        if isinstance(module, CKConv) and module.bias is not None:
            names.add(f"{prefix}.bias")
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            names.add(f"{prefix}.running_mean")
    return names


def max_bias_norms(module: TaskModule, steps: int) -> float:
    """Upper bound on sum_l ||bias_l|| after ``steps`` Adam steps from zero: each element moves at most
    ~lr per step (bounded here by 4 lr, generously)."""
    bound = 0.0
    for layer in module.model.modules():
        if isinstance(layer, CKConv) and layer.bias is not None:
            bound += 4 * module.optim.lr * steps * layer.bias.numel() ** 0.5
    return bound


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_replay_original_training(path: Path) -> None:
    config, state, data = load(path)
    module = module_from_original(config, state)
    assert isinstance(module, TaskModule)
    assert all(p.dtype == torch.float64 for p in module.parameters())
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    ours = sorted((round(g["lr"], 12), sum(p.numel() for p in g["params"])) for g in optimizer.param_groups)
    original = sorted((round(g["lr"], 12), g["size"]) for g in json.loads(str(data["lr_groups"])) if g["size"])
    assert ours == original
    initial_biases = [k for k in state if re.search(r"cconv\d\.bias$", k)]
    assert initial_biases and all(float(state[k].abs().max()) == 0.0 for k in initial_biases)  # bounds start at 0

    tol = tolerance(config)
    decay = module.optim.kernel_norm_decay
    module.train()
    for step in range(len(data["loss"])):
        optimizer.zero_grad()
        loss = module.training_loss(torch.as_tensor(data["inputs"][step]), torch.as_tensor(data["labels"][step]))
        with torch.no_grad():
            regularizer = sum(module.regularizers().values(), torch.zeros_like(loss))
            bias_norms = sum(float(layer.bias.norm()) for layer in module.model.modules() if isinstance(layer, CKConv))
        assert rel_error(loss - regularizer, data["task_loss"][step : step + 1]) <= tol, f"step {step}: task loss"
        # regulariser = kernel part (exact) + decay * sum ||bias|| (null direction: bounded)
        kernel_part = regularizer - decay * bias_norms
        original_bias_part = float(data["regularizer"][step]) - float(kernel_part)
        allowance = tol * abs(float(data["regularizer"][step])) + 1e-15
        assert -allowance <= original_bias_part <= decay * max_bias_norms(module, step) + allowance, f"step {step}"
        if step == 0 or decay == 0:  # the biases are still 0, or not in the loss: the total loss itself
            assert rel_error(loss, data["loss"][step : step + 1]) <= tol, f"step {step}: loss"
        loss.backward()
        optimizer.step()

    final = {k[len("final/") :]: torch.as_tensor(data[k]) for k in data.files if k.startswith("final/")}
    expected = convert_state_dict(final, module.model)
    ours_state = module.model.state_dict()
    null = null_direction(module.model)
    steps = len(data["loss"])
    for name, value in expected.items():
        if name in null:
            if name.endswith(".bias"):  # both moved by at most ~lr per step
                limit = 4 * module.optim.lr * steps
                assert float(ours_state[name].abs().max()) <= limit and float(value.abs().max()) <= limit, name
            continue
        if value.is_floating_point():
            assert rel_error(ours_state[name], value) <= tol, name
        else:
            assert torch.equal(ours_state[name], value), name
    assert len(null) < len(expected) // 4  # the exact comparison covers nearly all of the state


def test_regularizer_parts_match_the_original() -> None:
    """The first step's loss split: cross-entropy and kernel-norm decay separately (TCN file)."""
    config, state, data = load(REPOSITORY_DIR / "trajectory_flextcn_seq.npz")
    module = module_from_original(config, state).train()
    inputs, labels = torch.as_tensor(data["inputs"][0]), torch.as_tensor(data["labels"][0])
    task = torch.nn.functional.cross_entropy(module(inputs), labels)
    assert rel_error(task, data["task_loss"][:1]) <= EXACT
    decay = config["train"]["weight_decay"] * kernel_norm_penalty(module.model)
    assert rel_error(decay, data["regularizer"][:1]) <= EXACT
    assert set(module.regularizers()) == {"kernel_norm"}


def test_kernel_norm_decay_is_not_optimizer_decay() -> None:
    """The original's weight decay is a loss term: the optimiser's own decay stays 0 for every group."""
    config, state, _ = load(REPOSITORY_DIR / "trajectory_flextcn_seq.npz")
    module = module_from_original(config, state)
    assert module.optim.kernel_norm_decay == config["train"]["weight_decay"] and module.optim.weight_decay == 0.0
    assert all(group["weight_decay"] == 0.0 for group in module.configure_optimizers().param_groups)


def test_unsupported_original_options_fail_clearly() -> None:
    config, state, _ = load(REPOSITORY_DIR / "trajectory_flextcn_seq.npz")
    config["train"]["optimizer"] = "RMSprop"
    with pytest.raises(ValueError, match="Adam"):
        module_from_original(config, state)


def test_tcn_head_is_initialised_as_the_original() -> None:
    """Sequence TCN head: N(0, 0.01^2), zero bias (the starting loss is about log(classes)); ResNet head: Kaiming."""
    from flexconv.models.registry import get_model

    torch.manual_seed(0)
    tcn = get_model("flextcn", hidden_channels=200, num_blocks=1)  # 200 x 10 head weights
    assert tcn.head.weight.std().item() == pytest.approx(0.01, rel=0.1) and not tcn.head.bias.any()
    resnet = get_model("flexnet7")
    fan_in = resnet.head.weight.shape[1]
    assert resnet.head.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.2)
