"""One real `flexconv train` run, then what the first hour needs from it: quiet output, readable
kernel pictures, export with a parity check, profiling of the checkpoint or of an experiment."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest
import torch
from conftest import TINY_MODEL, tiny_overrides

from flexconv.cli import main as cli
from flexconv.train.callbacks import plot_kernel_sizes, plot_kernels
from flexconv.train.checkpoints import load_module

NOISE = ("💡 Tip", "litlogger", "LeafSpec", "Total Flops", "FLOPs", "exists and is not empty", "gpuGetDeviceCount")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(run folder, stdout + stderr) of a tiny `flexconv train` in a brand-new folder."""
    folder = tmp_path_factory.mktemp("cli")
    run_dir = folder / "runs" / "tiny"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "flexconv.cli", "train", *tiny_overrides(run_dir, "trainer.max_steps=6")],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir, done.stdout + done.stderr


def test_a_run_prints_no_noise(cli_run: tuple[Path, str]) -> None:
    run_dir, output = cli_run
    assert "test_acc" in output and "Trainable params" in output  # the results and the model summary stay
    for noise in NOISE:
        assert noise not in output, noise


def test_kernel_pictures_show_taps_start_sizes_ticks_and_colour_bars(cli_run: tuple[Path, str], monkeypatch) -> None:
    run_dir, _ = cli_run
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    initial = next(state["initial"] for name, state in checkpoint["callbacks"].items() if "KernelPictures" in name)
    module = load_module(run_dir / "checkpoints" / "last.ckpt")
    assert set(initial) == {n for n, m in module.named_modules() if hasattr(m, "effective_kernel_size")}
    assert all(size[0] >= 1 for size in initial.values())

    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    plot_kernel_sizes(module, run_dir / "sizes.png", initial)
    ax = figures[0].axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert ax.get_ylabel() == "kernel size (taps)"
    assert labels and all("\u2192" in label for label in labels)  # "start -> learned" on every bar
    assert any("grid" in t.get_text() for t in ax.get_legend().get_texts())

    image_module = load_module(run_dir / "checkpoints" / "last.ckpt")
    from flexconv.nn import FlexConv

    layer = FlexConv(2, 3, data_dim=2, horizon=9)
    layer(torch.randn(1, 2, 9, 9))
    image_module.model = torch.nn.Sequential(layer)
    plot_kernels(image_module, run_dir / "kernels2d.png", count=3)
    kernels = figures[1]
    images = [a for a in kernels.axes if a.images]
    assert len(images) == 3 and all(len(a.get_xticks()) > 0 and len(a.get_yticks()) > 0 for a in images)
    assert any(a.get_ylabel() == "weight" for a in kernels.axes)  # the colour bar


def test_export_prints_parity_and_writes_onnx(cli_run: tuple[Path, str], tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnx")
    run_dir, _ = cli_run
    out = tmp_path / "model.onnx"
    cli(["export", str(run_dir / "checkpoints" / "best.ckpt"), "--onnx", str(out)])
    printed = capsys.readouterr().out
    assert "parity plain convolutions: max |difference|" in printed and "(ok" in printed
    assert out.is_file() and out.stat().st_size > 0
    if importlib.util.find_spec("onnxruntime") is not None:
        assert "parity ONNX (onnxruntime): max |difference|" in printed


def test_export_names_a_bad_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "x.ckpt").write_text("not a checkpoint")
    with pytest.raises(SystemExit, match=r"x.ckpt is not a readable checkpoint"):
        cli(["export", str(tmp_path / "x.ckpt")])


def test_profile_a_checkpoint_and_an_experiment(cli_run: tuple[Path, str], tmp_path: Path, capsys) -> None:
    run_dir, _ = cli_run
    common = ["--batch", "2", "--steps", "1", "--warmup", "0", "--rows", "3", "--device", "cpu"]
    cli(["profile", "--checkpoint", str(run_dir / "checkpoints" / "last.ckpt"), *common, "--out", str(tmp_path / "a")])
    assert "input (2, 1, 40)" in capsys.readouterr().out  # MNIST-1D: the dataset's shape
    cli(
        [
            "profile",
            "--experiment",
            "main_job",
            *[f"--override={o}" for o in TINY_MODEL],
            *common,
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert "main_job:" in capsys.readouterr().out and (tmp_path / "b" / "trace.json").is_file()
