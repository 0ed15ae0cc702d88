"""``flexconv export <checkpoint> --onnx out.onnx``: a trained model as plain convolutions.

The checkpoint (a run's ``.ckpt``, a release file ``.pt`` or a released name such as
``flextcn_mnist1d``) has its model go through :func:`flexconv.nn.export.export` (every
CKConv/FlexConv becomes an ``nn.ConvNd`` holding its cropped kernel); the command checks that the
plain model gives the same outputs on a random batch of the dataset's input shape, writes it to ONNX
(when ``--onnx`` is given) and checks the ONNX model with onnxruntime when that is installed. It
prints the largest absolute difference of each check.

The ONNX model's batch axis and spatial axes (length, height, width) are dynamic: the exported
kernels are fixed, so it serves any batch size and input size (outputs of other sizes are the plain
model's; the check runs it at batch ``B + 3`` with each spatial axis 4 steps longer too).

    flexconv export runs/main_job/<run>/checkpoints/best.ckpt --onnx model.onnx
    flexconv export flextcn_mnist1d --onnx mnist1d.onnx
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Optional, cast

import torch
from omegaconf import OmegaConf
from torch import nn

PARITY_TOLERANCE = 1e-4  # relative to the largest output magnitude (float32)


def example_input(run_config: dict[str, Any], batch: int, seed: int = 0) -> torch.Tensor:
    """A random batch (B, C, *S) of the input shape of the run's dataset."""
    from flexconv.train.builders import datamodule_from_config

    record = datamodule_from_config(OmegaConf.create(run_config)).record
    spatial = record.resolution if record.data_dim == 2 else (record.length,)
    if spatial is None or None in spatial:
        raise ValueError(f"dataset {record.name} has no fixed input shape to export with")
    sizes = cast("tuple[int, ...]", spatial)  # no None left
    return torch.randn(batch, record.in_channels, *sizes, generator=torch.Generator().manual_seed(seed))


def dynamic_axes(x: torch.Tensor, y: torch.Tensor) -> dict[str, dict[int, str]]:
    """ONNX dynamic axes: the batch and every spatial axis of the input ``x`` (B, C, *S); of the output
    ``y`` the batch, and its trailing axes when it keeps the input's (per-step outputs: (B, K, *S))."""
    spatial = {axis: f"s{axis - 2}" for axis in range(2, x.dim())}
    out_axes = {0: "batch", **(spatial if y.dim() == x.dim() else {})}
    return {"x": {0: "batch", **spatial}, "y": out_axes}


def write_onnx(model: nn.Module, x: torch.Tensor, path: Path) -> None:
    """``model`` to ONNX at ``path`` with dynamic batch and spatial axes (:func:`dynamic_axes`), with the
    TorchScript exporter (the dynamo one where it is missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        axes = dynamic_axes(x, model(x))
    try:
        torch.onnx.export(
            model, (x,), str(path), dynamo=False, input_names=["x"], output_names=["y"], dynamic_axes=axes
        )
    except TypeError:  # a torch without the TorchScript exporter switch
        shapes = {"x": {axis: torch.export.Dim.AUTO for axis in axes["x"]}}
        torch.onnx.export(
            model, (x,), str(path), dynamo=True, input_names=["x"], output_names=["y"], dynamic_shapes=shapes
        )


def onnx_outputs(path: Path, x: torch.Tensor) -> Optional[torch.Tensor]:
    """The ONNX model's output on ``x`` with onnxruntime, or None when onnxruntime is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(out)


def export_checkpoint(checkpoint: str | Path, onnx: Optional[Path] = None, batch: int = 2) -> dict[str, Any]:
    """Export ``checkpoint``'s model; returns the parity figures (``max_abs_diff``, ``onnx_max_abs_diff``,
    ``scale``: the largest output magnitude) and the paths written."""
    from flexconv.nn.export import export
    from flexconv.train.checkpoints import evaluation_module

    module = evaluation_module(checkpoint)
    model = module.model.eval()
    x = example_input(module.hparams["run_config"], batch)
    plain = export(model).eval()
    with torch.no_grad():
        reference, exported = model(x), plain(x)
    results: dict[str, Any] = {
        "input_shape": tuple(x.shape),
        "scale": float(reference.abs().max()),
        "max_abs_diff": float((reference - exported).abs().max()),
        "onnx": None,
        "onnx_max_abs_diff": None,
        "onnx_other_shape": None,
        "onnx_other_shape_max_abs_diff": None,
    }
    if onnx is not None:
        write_onnx(plain, x, onnx)
        results["onnx"] = str(onnx)
        out = onnx_outputs(onnx, x)
        if out is not None:
            results["onnx_max_abs_diff"] = float((reference - out).abs().max())
            other = torch.randn(
                batch + 3, *x.shape[1:2], *(s + 4 for s in x.shape[2:]), generator=torch.Generator().manual_seed(1)
            )
            with torch.no_grad():
                expected = plain(other)
            results["onnx_other_shape"] = tuple(other.shape)
            results["onnx_other_shape_max_abs_diff"] = float((expected - onnx_outputs(onnx, other)).abs().max())
    return results
