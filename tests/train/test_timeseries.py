"""experiment=timeseries and its k=3 baseline: they compose, train without a validation split on the
five development sets and on a user's .npz, and the results study writes its table into the page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from flexconv.cli.results import main as bench
from flexconv.data.uea import aeon_data_dir
from flexconv.experiments.results.study import STUDIES
from flexconv.experiments.results.table import RUN_RECORD, read_record
from flexconv.train.callbacks import continuous_layers
from flexconv.train.commands import train
from flexconv.train.config import compose_config
from flexconv.train.module import TaskModule

SETS = ["uea_acsf1", "uea_gunpoint", "uea_italypowerdemand", "uea_pickupgesturewiimotez", "uea_japanesevowels"]
QUICK = [
    "trainer.max_steps=2",
    "data.limit_test=16",
    "trainer.enable_progress_bar=false",
    "logger.tensorboard=false",
    "num_threads=1",
]
needs_aeon = pytest.mark.skipif(aeon_data_dir() is None, reason="aeon (its bundled datasets) is not installed")


def _user_npz(path: Path) -> Path:
    """40 series of 2 channels x 30 steps, 3 classes (strings), some shorter (NaN at the end)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2, 30)).astype(np.float32)
    x[::7, :, 25:] = np.nan
    np.savez(path, X=x, y=np.array(["low", "mid", "high", "mid"] * 10))
    return path


def test_presets_compose_to_the_documented_choices() -> None:
    flex = compose_config(["experiment=timeseries", "data=uea_gunpoint"])
    conv3 = compose_config(["experiment=timeseries_conv3", "data=uea_gunpoint"])
    assert flex.data.name == "uea_gunpoint" and flex.data.val_fraction == 0.0
    assert flex.model.head == "pool" and flex.model.conv.type == "FlexConv" and flex.model.conv.mask.lr_factor == 1.0
    assert flex.model.conv.mask.crop_margin == 1  # a layer cropped to one tap can grow again
    assert flex.trainer.max_steps == 2000 and flex.trainer.max_epochs >= 2000  # a step budget, whatever the set's size
    assert flex.optim.scheduler == "cosine"  # no schedule that monitors a validation metric
    assert flex.checkpoint.monitor is None  # the last epoch is tested, not one picked by training accuracy
    assert conv3.model.conv.type == "Conv" and conv3.model.conv.kernel_size == 3
    # The baseline differs from the preset only in its convolution (and its name).
    strip = lambda c: {k: v for k, v in c.items() if k != "experiment_name"}  # noqa: E731
    flex.model.conv.type, flex.model.conv.kernel_size = "Conv", 3
    flex.model.conv.kernel_net = flex.model.conv.mask = None
    assert strip(flex) == strip(conv3)


@needs_aeon
@pytest.mark.parametrize("dataset", SETS)
def test_preset_trains_two_steps_without_validation(dataset: str, tmp_path: Path) -> None:
    cfg = compose_config(["experiment=timeseries", f"data={dataset}", f"run_dir={tmp_path / 'run'}", *QUICK])
    result = train(cfg)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["global_step"] == 2 and result["val_acc"] is None and 0.0 <= result["test_acc"] <= 1.0
    tested = torch.load(result["best_checkpoint"], map_location="cpu", weights_only=False)
    assert tested["global_step"] == 2  # the checkpoint tested is the last one
    model = TaskModule.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt").model
    layers = continuous_layers(model)
    assert len(layers) == 8 and model.config.head == "pool"
    # Two steps (still in the warm-up, so at a small learning rate) already move every mask: each gets a gradient.
    assert all(not torch.equal(layer.mask.width, torch.tensor([0.075])) for _, layer in layers)


@pytest.mark.parametrize("preset", ["timeseries", "timeseries_conv3"])
def test_presets_train_on_a_user_npz(preset: str, tmp_path: Path) -> None:
    path = _user_npz(tmp_path / "mine.npz")
    cfg = compose_config(
        [f"experiment={preset}", "data=series", f"data.path={path}", f"run_dir={tmp_path / 'run'}", *QUICK]
    )
    result = train(cfg)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["global_step"] == 2
    assert 0.0 <= result["test_acc"] <= 1.0
    model = TaskModule.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt").model
    assert (model.config.in_channels, model.config.num_classes) == (2, 3)
    assert bool(continuous_layers(model)) == (preset == "timeseries")


@needs_aeon
def test_timeseries_study_writes_its_table_into_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fitted = []

    def fit_aeon(classifier: str, data: str, seed: int) -> dict:  # aeon's real fits: docs/records/timeseries
        fitted.append((classifier, data, seed))
        return {"test_acc": 0.5 if classifier == "minirocket" else 0.25, "wall_time_s": 1.5, "device": "cpu"}

    monkeypatch.setattr("flexconv.experiments.baselines.fit_aeon", fit_aeon)
    docs = tmp_path / "docs"
    two_sets = [
        f"{s}/{m}" for s in ("GunPoint", "ItalyPowerDemand") for m in ("flextcn", "conv3", "minirocket", "multirocket")
    ]

    def bench_timeseries(*options: str) -> None:
        """``flexconv bench results`` of two sets of the time-series study, 2 training steps a row, into ``docs``."""
        common = ["--out", str(docs), "--runs", str(tmp_path / "runs"), "--rows", ",".join(two_sets)]
        overrides = ["--override", "timeseries:trainer.max_steps=2", "--override", "timeseries:data.limit_test=16"]
        bench(["results", "--studies", "timeseries", *options, *common, *overrides])

    bench_timeseries("--seeds", "1")
    page = (docs / "results.md").read_text()
    assert page.count("\n## ") == len(STUDIES) + 1  # the others from what has finished (nothing here)
    section = page.split("\n## Time series")[1].split("\n## ")[0]
    assert "| GunPoint MiniRocket | 50.00 | 1 | – | 1.5 |" in section and "| GunPoint MultiRocket | 25.00 |" in section
    assert "| ACSF1 FlexTCN | no finished run at this budget yet |" in section  # not in --rows
    assert "`flexconv train experiment=timeseries_conv3 data=uea_gunpoint" in section
    assert "`flexconv.experiments.baselines.fit_aeon('minirocket', 'uea_gunpoint', seed=S)`" in section
    assert section.count("**Claim:**") == 5 and (docs / "figures" / "timeseries.png").stat().st_size > 0
    assert (
        "within 1.5 points of MiniRocket's (the baseline a practitioner fits first). **Here:** not tested yet"
        in section
    )
    assert "| GunPoint FlexTCN | 7, 7, 7, 7, 7, 7, 7, 7 → **" in section  # the kernel size table
    assert sorted(fitted) == [
        (c, f"uea_{s}", 0) for c in ("minirocket", "multirocket") for s in ("gunpoint", "italypowerdemand")
    ]
    assert (docs / "records" / "timeseries" / "GunPoint_MiniRocket" / "seed0.json").is_file()
    run = tmp_path / "runs" / "timeseries" / "GunPoint_FlexTCN" / "seed0"
    assert len(read_record(run / RUN_RECORD).result["kernel_sizes"]["learned"]) == 8

    # --finished-only trains nothing: asked for two seeds, the page shows the one that finished.
    def no_training(*_args, **_kwargs):
        raise AssertionError("--finished-only trained a row")

    monkeypatch.setattr("flexconv.train.commands.train", no_training)
    bench_timeseries("--seeds", "2", "--finished-only")
    page = (docs / "results.md").read_text()
    assert page.count("| GunPoint MiniRocket | 50.00 | 1 |") == 1 and "--finished-only" in page


def test_aeon_rows_are_left_out_of_fast_invocations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flexconv.experiments.results.sweep import Context, run_rows

    def fit_aeon(*_args, **_kwargs):
        raise AssertionError("--fast fitted an aeon row")

    monkeypatch.setattr("flexconv.experiments.baselines.fit_aeon", fit_aeon)
    rows = [STUDIES["timeseries"].row(f"GunPoint/{name}") for name in ("minirocket", "multirocket")]
    runs = run_rows(rows, Context(fast=True, seeds=[0], out=tmp_path, runs=tmp_path / "runs"), "timeseries")
    assert runs.results == {"GunPoint/minirocket": [], "GunPoint/multirocket": []}
    assert (
        runs.commands["GunPoint/multirocket"]
        == "flexconv.experiments.baselines.fit_aeon('multirocket', 'uea_gunpoint', seed=S)"
    )
