"""Kernel fitting: the original protocol by default; every network fits every target; MAGNet beats SIREN on
Gabor kernels."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from flexconv.cli.fit_kernel import main as fit_kernel_main
from flexconv.experiments import fit_kernel as fk
from flexconv.nn.kernels import SIREN

TINY = {"iterations": 30, "lrs": (0.01,), "hidden": 8, "layers": 2, "size": 9}


def test_targets_have_their_shapes_and_range() -> None:
    for name, channels in (("gabor", 4), ("random", 1), ("image", 1)):
        target = fk.make_target(name, 17, seed=3)
        assert target.shape == (channels, 17, 17)
        assert target.min() >= -1 and target.max() <= 1
    assert torch.equal(fk.make_target("random", 9, seed=1), fk.make_target("random", 9, seed=1))
    with pytest.raises(ValueError, match="unknown target"):
        fk.make_target("checkerboard")


def test_fit_reduces_the_error() -> None:
    target = fk.make_target("gabor", 9)
    out = fk.fit(fk.make_net("MAGNet", 4, hidden=8, layers=2), target, iterations=40, lr=0.01)
    assert len(out["curve"]) == 41 and out["curve"][-1] < out["curve"][0]
    assert out["kernel"].shape == target.shape
    assert out["mse"] == min(out["curve"])  # the lowest-loss fit is kept, as the original reloads its best weights
    assert out["mse"] == pytest.approx(float(torch.nn.functional.mse_loss(out["kernel"], target)))


def test_psnr_is_the_originals() -> None:
    """-10 log10(MSE) on [0, 1] images with the fit clipped to [0, 1]; our [-1, 1] values are mapped by (x + 1) / 2."""
    target = torch.tensor([[-1.0, 0.0, 1.0, 0.5]])
    fit = torch.tensor([[-1.5, 0.2, 1.0, 0.5]])  # -1.5 clips to -1 (exact); 0.2 is off by 0.1 on [0, 1]
    assert fk.psnr(fit, target) == pytest.approx(-10 * math.log10(0.1**2 / 4))
    assert fk.psnr(target, target) == math.inf


def test_defaults_are_the_original_protocol() -> None:
    assert (fk.ORIGINAL_INPUT_SCALE, fk.ORIGINAL_ITERATIONS, fk.ORIGINAL_LR) == (256.0, 3000, 0.01)
    report = fk.run(["gabor"], ["MAGNet"], iterations=0, size=9)
    assert report["settings"]["input_scale"] == 256.0 and report["settings"]["lrs"] == [0.01]
    assert fk.run.__kwdefaults__["iterations"] == 3000
    # input_scale reaches the first filter: its weights scale with it (same seed)
    wide, narrow = (fk.make_net("MAGNet", 1, hidden=8, layers=2, input_scale=s) for s in (256.0, 25.6))
    ratio = wide.filters[0].linear.weight / narrow.filters[0].linear.weight
    assert torch.allclose(ratio, torch.full_like(ratio, 10.0))
    with pytest.raises(ValueError, match="input_scale"):
        fk.make_net("MAGNet", 1, input_scale=0.0)


def test_every_pair_gives_finite_mse_and_psnr() -> None:
    report = fk.run(list(fk.TARGETS), list(fk.DEFAULT_NETS), **TINY)
    assert {(r["target"], r["net"]) for r in report["results"]} == {(t, n) for t in fk.TARGETS for n in fk.DEFAULT_NETS}
    for r in report["results"]:
        assert math.isfinite(r["mse"]) and math.isfinite(r["psnr"]) and r["params"] > 0


def test_siren_gets_as_many_hidden_maps_as_the_mfns() -> None:
    siren = fk.make_net("SIREN", 1, hidden=8, layers=3)
    assert isinstance(siren, SIREN) and len(siren.layers) == 4  # input sine layer + 3 hidden
    assert len(fk.make_net("MAGNet", 1, hidden=8, layers=3).hidden) == 3


def test_magnet_beats_siren_on_gabor_kernels() -> None:
    # The original protocol (input scale 256, lr 0.01), shortened.
    report = fk.run(["gabor"], ["MAGNet", "SIREN"], iterations=150, hidden=16, size=17)
    psnr = {r["net"]: r["psnr"] for r in report["results"]}
    assert psnr["MAGNet"] > psnr["SIREN"]


def test_command_writes_table_json_and_pictures(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fit_kernel_main(
        [
            "--targets",
            "gabor,image",
            "--nets",
            "MAGNet,SIREN",
            "--iterations",
            "5",
            "--lr",
            "0.01",
            "--hidden",
            "8",
            "--size",
            "9",
            "--out",
            str(tmp_path),
        ]
    )
    printed = capsys.readouterr().out
    assert "Kernel fitting" in printed and "MAGNet" in printed
    data = json.loads((tmp_path / "fit_kernel.json").read_text())
    assert len(data["results"]) == 4 and len(data["results"][0]["curve"]) == 6
    assert (tmp_path / "fit_kernel.png").stat().st_size > 0
    assert (tmp_path / "fit_kernel_kernels.png").stat().st_size > 0
    with pytest.raises(SystemExit):
        fit_kernel_main(["--nets", "ResNet", "--out", str(tmp_path)])
