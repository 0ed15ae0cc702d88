"""Exactness against the original FlexConv code: every layer, model and anti-aliasing reference file, in float64.

Each reference file holds an original config, its state dict (original names), an input and
the original's outputs and gradients. The files live in tests/data/reference (computed by the
original code; see its README); files added later to ../shared/reference (or to the folder in
$FLEXCONV_REFERENCE_DIR) are picked up automatically. Training-trajectory files are replayed by
tests/train/test_trajectory.py. The original's checkpoints are float32: every file, cast to
float32, must load too and reproduce the float64 output to float32 rounding.

Two documented float32 effects of the original code are accounted for, not hidden:
* its FFT convolution ends with ``.float()``, so for layers that took the FFT path (kernel sides
  > 50 with ``conv_use_fft``) the reference output is our float64 output rounded to float32, and the
  backward pass saw the incoming gradient rounded to float32 (the bias, added after the cast, did not);
* its anti-aliasing code stores per-filter frequencies in a float32 tensor, so the regulariser value
  and gradients carry float32 rounding (~1e-7 relative).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from flexconv.compat import antialiasing_from_original, from_original, module_from_original, original_to_ours
from flexconv.nn import CKConv

REPOSITORY_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
EXTRA_DIR = Path(os.environ.get("FLEXCONV_REFERENCE_DIR", Path(__file__).resolve().parents[3] / "shared" / "reference"))


def reference_files(prefix: str = "") -> list[Path]:
    """The repository's reference files, plus any file of another name in EXTRA_DIR, sorted by name."""
    found = {p.name: p for p in sorted(EXTRA_DIR.glob("*.npz"))}
    found.update({p.name: p for p in sorted(REPOSITORY_DIR.glob("*.npz"))})
    return [found[name] for name in sorted(found) if name.startswith(prefix)]


ALL_FILES = reference_files()
FILES = [p for p in ALL_FILES if not p.name.startswith("trajectory_")]
EXACT = 1e-8  # relative error allowed for the layer mathematics (float64)
FLOAT32_ROUNDED = 1e-6  # anti-aliasing values computed by the original partly in float32
FLOAT32 = 1e-5  # a float32 module against the float64 reference: float32 rounding (measured: at most 1.2e-6)


def test_the_repository_holds_the_reference_files() -> None:
    assert len(list(REPOSITORY_DIR.glob("*.npz"))) >= 17
    assert {p.name for p in FILES} >= {
        "flexnet2d_small.npz",
        "flexconv2d_magnet_init.npz",
        "antialias_gabor_together.npz",
    }


def rel_error(ours: torch.Tensor, reference: np.ndarray) -> float:
    reference_t = torch.as_tensor(reference, dtype=torch.float64)
    ours = ours.detach().to(torch.float64).reshape(reference_t.shape)
    scale = reference_t.abs().max().clamp_min(1e-300)
    return float((ours - reference_t).abs().max() / scale)


def load(path: Path) -> tuple[dict, dict[str, torch.Tensor], np.lib.npyio.NpzFile]:
    data = np.load(path)
    config = json.loads(str(data["config"]))
    state = {k[len("state/") :]: torch.as_tensor(data[k]) for k in data.files if k.startswith("state/")}
    return config, state, data


def our_grad(module: torch.nn.Module, original_key: str, names: dict[str, str]) -> torch.Tensor:
    """Gradient of our parameter(s) behind an original key, in the original's shape."""
    name = names[original_key]
    if original_key.endswith("mask_params"):
        mask = module.get_submodule(name)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in (mask.mean, mask.width)]
        return torch.stack(grads, dim=1)
    grad = module.get_parameter(name).grad
    assert grad is not None, f"no gradient reached {name} (original {original_key})"
    return grad


def took_fft_path(config: dict, kernel_shape: tuple[int, ...]) -> bool:
    """The original used its (float32-casting) FFT path iff conv_use_fft and every kernel side > 50."""
    return bool(config.get("conv_use_fft")) and all(k > 50 for k in kernel_shape[2:])


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_reference(path: Path) -> None:
    config, state, data = load(path)
    module = from_original(config, state)
    names = original_to_ours(state)
    assert all(p.dtype == torch.float64 for p in module.parameters())

    if "model" in config:
        module.eval()
        with torch.no_grad():
            out = module(torch.as_tensor(data["input"]))
        assert rel_error(out, data["output"]) <= EXACT
        return

    if "layers" in config:  # anti-aliasing files: two stacked layers and the regulariser
        module.train()
        regulariser = antialiasing_from_original(config)
        value = regulariser(module)
        value.backward()
        assert rel_error(value, data["value"]) <= FLOAT32_ROUNDED
        grad_keys = [k for k in data.files if k.startswith("grad/")]
        assert grad_keys
        for key in grad_keys:
            assert rel_error(our_grad(module, key[5:], names), data[key]) <= FLOAT32_ROUNDED, key
        return

    assert isinstance(module, CKConv)
    module.train()
    x = torch.as_tensor(data["input"]).clone().requires_grad_(True)
    out = module(x)
    kernel = module.make_kernel()
    assert tuple(kernel.shape) == data["kernel"].shape
    assert rel_error(kernel, data["kernel"]) <= EXACT

    grad_output = torch.as_tensor(data["grad_output"])
    if took_fft_path(config, tuple(kernel.shape)):
        # Reference = our output rounded to float32; its backward saw float32(grad_output).
        assert rel_error(out.float(), data["output"]) <= EXACT
        (bias_grad,) = torch.autograd.grad((out * grad_output).sum(), [module.bias], retain_graph=True)
        (out * grad_output.float().double()).sum().backward()
        module.bias.grad = bias_grad
    else:
        assert rel_error(out, data["output"]) <= EXACT
        (out * grad_output).sum().backward()

    assert rel_error(x.grad, data["grad_input"]) <= EXACT
    grad_keys = [k for k in data.files if k.startswith("grad/")]
    assert grad_keys
    for key in grad_keys:
        assert rel_error(our_grad(module, key[5:], names), data[key]) <= EXACT, key


def float32_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state as the original code saves it: floating tensors (buffers included) in float32."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


@pytest.mark.parametrize("path", ALL_FILES, ids=[f.stem for f in ALL_FILES])
def test_float32_original_state_loads(path: Path) -> None:
    config, state, data = load(path)
    state32 = float32_state(state)
    thresholds = [v.item() for k, v in state32.items() if k.endswith("mask_threshold")]
    assert all(t != 0.1 and t == pytest.approx(0.1, rel=1e-7) for t in thresholds)  # float32(0.1)
    if path.name.startswith("trajectory_"):  # a run: the float32 module's first training loss
        run = module_from_original(config, state32).train()
        assert all(p.dtype == torch.float32 for p in run.parameters())
        loss = run.training_loss(torch.as_tensor(data["inputs"][0]).float(), torch.as_tensor(data["labels"][0]))
        assert rel_error(loss, data["loss"][0]) <= FLOAT32
        return
    module = from_original(config, state32)
    assert all(p.dtype == torch.float32 for p in module.parameters())
    if "layers" in config:
        value = antialiasing_from_original(config)(module.train())
        assert rel_error(value, data["value"]) <= FLOAT32
        return
    module.train(mode="model" not in config)
    with torch.no_grad():
        out = module(torch.as_tensor(data["input"]).float())
    assert out.dtype == torch.float32
    assert rel_error(out, data["output"]) <= FLOAT32


def test_a_wrong_threshold_is_still_rejected_in_float32() -> None:
    config, state, _ = load(REPOSITORY_DIR / "flexconv2d_magnet_init.npz")
    state32 = float32_state(state)
    state32["mask_threshold"] = torch.full_like(state32["mask_threshold"], 0.2)
    with pytest.raises(ValueError, match="mask_threshold"):
        from_original(config, state32)
