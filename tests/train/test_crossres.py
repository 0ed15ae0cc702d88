"""The cross-resolution protocol runs end to end on tiny data and reports its four figures."""

import json
from pathlib import Path

import pytest

from conftest import TINY_MODEL
from flexconv.train.config import compose_config
from flexconv.train.crossres import crossres

pytest.importorskip("flexconv.nn.resolution", reason="change_resolution (flexconv/nn/resolution.py) is not there yet")
fake_tree = pytest.importorskip("flexconv.data.fake", reason="no fake Fashion-MNIST tree generator in the data layer")


def test_crossres_reports_four_figures(tmp_path: Path) -> None:
    root = fake_tree.make_fake_tree("fashion_mnist", tmp_path / "data")
    cfg = compose_config([
        "experiment=fashion_crossres_14_28_gabor", f"run_dir={tmp_path / 'run'}", f"data.root={root}",
        "data.batch_size=8", "data.limit_train=32", "data.limit_test=16", "trainer.max_epochs=1",
        "trainer.limit_val_batches=1", "trainer.enable_progress_bar=false", "logger.tensorboard=false",
        "crossres.finetune_epochs=1", "model.conv.horizon=15", *TINY_MODEL,
    ])
    results = crossres(cfg)
    for key in ("source_acc", "out_of_the_box_acc", "drop", "finetuned_acc"):
        assert isinstance(results[key], float), key
    assert json.loads((tmp_path / "run" / "crossres.json").read_text())["drop"] == pytest.approx(results["drop"])
