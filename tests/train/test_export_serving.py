"""ONNX export that serves: released models by name or file, dynamic batch and spatial axes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from flexconv.cli import main as cli
from flexconv.models.pretrained import RELEASES
from flexconv.train.export_command import export_checkpoint, onnx_outputs, write_onnx

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def test_a_released_name_and_a_release_file_export_with_dynamic_axes(tmp_path: Path, capsys) -> None:
    results = export_checkpoint("flextcn_mnist1d", tmp_path / "named.onnx", batch=2)
    assert results["input_shape"] == (2, 1, 40) and results["max_abs_diff"] < 1e-4
    assert results["onnx_other_shape"] == (5, 1, 44)  # another batch and another length than traced
    assert results["onnx_other_shape_max_abs_diff"] < 1e-4 * max(results["scale"], 1.0)

    release_file = tmp_path / "copy.pt"
    shutil.copy(RELEASES["flexnet_fashion_mnist"].path, release_file)
    cli(["export", str(release_file), "--onnx", str(tmp_path / "file.onnx"), "--batch", "3"])
    printed = capsys.readouterr().out
    assert "parity ONNX at input (6, 1, 32, 32) (dynamic axes)" in printed and "MISMATCH" not in printed

    import onnx

    graph = onnx.load(str(tmp_path / "file.onnx")).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, "s0", "s1"]


def test_an_unknown_name_lists_the_releases(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no released checkpoint of that name.*flextcn_mnist1d"):
        cli(["export", "flextcn_mnist1e"])


def test_a_converted_network_serves_any_batch_in_onnxruntime(tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    from flexconv.nn import convert, export

    model = convert(torchvision.models.resnet18(num_classes=10)).eval()
    x = torch.randn(2, 3, 32, 32)
    write_onnx(export(model), x, tmp_path / "resnet18.onnx")  # traced at batch 2, 32x32
    other = torch.randn(5, 3, 48, 40)
    with torch.no_grad():
        expected = model(other)
    assert torch.allclose(onnx_outputs(tmp_path / "resnet18.onnx", other), expected, rtol=1e-4, atol=1e-4)
