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
from flexconv.experiments.results import sweep
from flexconv.experiments.results.study import STUDIES
from flexconv.experiments.results.table import RUN_RECORD, read_record
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
    assert math.isnan(fk.psnr(torch.full_like(fit, math.nan), target))  # a diverged fit never looks perfect


def test_defaults_are_the_original_protocol() -> None:
    assert (fk.ORIGINAL_INPUT_SCALE, fk.ORIGINAL_ITERATIONS, fk.ORIGINAL_LR) == (256.0, 3000, 0.01)
    defaults = fk.fit_one.__kwdefaults__
    assert defaults["iterations"] == 3000 and list(defaults["lrs"]) == [0.01] and defaults["input_scale"] == 256.0
    assert fk.page_config("gabor", "MAGNet", 0, fast=False) == {"target": "gabor", "net": "MAGNet", **defaults} | {
        "lrs": [0.01]
    }
    # input_scale reaches the first filter: its weights scale with it (same seed)
    wide, narrow = (fk.make_net("MAGNet", 1, hidden=8, layers=2, input_scale=s) for s in (256.0, 25.6))
    ratio = wide.filters[0].linear.weight / narrow.filters[0].linear.weight
    assert torch.allclose(ratio, torch.full_like(ratio, 10.0))
    with pytest.raises(ValueError, match="input_scale"):
        fk.make_net("MAGNet", 1, input_scale=0.0)


def test_every_pair_gives_finite_mse_and_psnr() -> None:
    for target in fk.TARGETS:
        for net in fk.DEFAULT_NETS:
            r = fk.fit_one(target, net, **TINY)
            assert (r["target"], r["net"]) == (target, net)
            assert math.isfinite(r["mse"]) and math.isfinite(r["psnr"]) and r["params"] > 0


def test_a_result_is_a_small_json_record_of_the_best_rate() -> None:
    """The best rate's fit (its MSE in mse_per_lr), the curve every curve_every steps to 3 significant digits, the
    kernel to 4, every rate's time; the JSON round trip changes nothing."""
    r = fk.fit_one("gabor", "MAGNet", iterations=40, lrs=(0.01, 1e-5), hidden=8, layers=2, size=9)
    assert json.loads(json.dumps(r)) == r
    assert r["lr"] == 0.01 and r["mse"] == r["mse_per_lr"]["0.01"] < r["mse_per_lr"]["1e-05"]
    full = fk.fit(fk.make_net("MAGNet", 4, hidden=8, layers=2), fk.make_target("gabor", 9), iterations=40, lr=0.01)
    assert r["mse"] == full["mse"] and r["curve_every"] == 1
    assert r["curve"] == [float(f"{v:.3g}") for v in full["curve"]]
    kernel = torch.tensor(r["kernel"])
    assert kernel.shape == (4, 9, 9) and torch.allclose(kernel, full["kernel"], rtol=1e-3, atol=0)
    long = fk.fit_one("random", "MAGNet", iterations=2 * fk.CURVE_POINTS, hidden=4, layers=1, size=5)
    assert long["curve_every"] == 2 and len(long["curve"]) == fk.CURVE_POINTS + 1


def test_siren_gets_as_many_hidden_maps_as_the_mfns() -> None:
    siren = fk.make_net("SIREN", 1, hidden=8, layers=3)
    assert isinstance(siren, SIREN) and len(siren.layers) == 4  # input sine layer + 3 hidden
    assert len(fk.make_net("MAGNet", 1, hidden=8, layers=3).hidden) == 3


def test_magnet_beats_siren_on_gabor_kernels() -> None:
    # The original protocol (input scale 256, lr 0.01), shortened.
    psnr = {net: fk.fit_one("gabor", net, iterations=150, hidden=16, size=17)["psnr"] for net in ("MAGNet", "SIREN")}
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


def test_a_results_row_fits_its_pair_once_and_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row of the results page is one fit_one call with the page's settings (--fast: 60 steps at two rates),
    recorded in its run folder (not committed: --fast) and reused from there."""
    ctx = sweep.Context(fast=True, seeds=[0, 1], out=tmp_path / "docs", runs=tmp_path / "runs")
    study = STUDIES["fit_kernel"]
    row = study.row("gabor/SIREN")
    runs = sweep.run_rows([row], ctx, study.key, study.program, study.max_seeds)
    (result,) = runs.results["gabor/SIREN"]
    assert (result["target"], result["net"], len(result["curve"]), sorted(result["mse_per_lr"])) == (
        "gabor",
        "SIREN",
        61,
        ["0.001", "0.01"],
    )
    command = "flexconv fit-kernel --targets gabor --nets SIREN --iterations 60 --lr 0.01,0.001 --seed S"
    assert runs.commands["gabor/SIREN"] == command
    record = read_record(tmp_path / "runs" / "fit_kernel" / "gabor_SIREN" / "seed0" / RUN_RECORD)
    assert record.config == fk.page_config("gabor", "SIREN", 0, fast=True) | {
        "run_dir": str(tmp_path / "runs" / "fit_kernel" / "gabor_SIREN" / "seed0"),
        "resume": None,
    }
    assert not (tmp_path / "docs").exists()

    def no_fit(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a finished row was fitted again")

    monkeypatch.setattr(fk, "fit_one", no_fit)
    again = sweep.run_rows([row], ctx, study.key, study.program, study.max_seeds)
    assert again.results["gabor/SIREN"] == [result]
