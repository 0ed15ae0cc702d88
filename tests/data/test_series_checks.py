"""Data checks that lose nothing: bad values, classes and channels stop with an error naming the row and the fix
(the loaders of data=series and uea_*, which the CLI and FlexTCNClassifier share)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from flexconv.data import series
from flexconv.data.datamodule import FlexDataModule
from flexconv.data.uea import prepare_pair


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    series.load_series.cache_clear()  # files are rewritten under the same tmp names


def _data(n: int = 12, channels: int = 2, length: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, channels, length)).astype(np.float32), np.arange(n) % 2


def _npz(path: Path, x: np.ndarray, y: np.ndarray) -> str:
    np.savez(path, X=x, y=y)
    return str(path)


def test_an_infinite_value_is_an_error_naming_its_row_and_step(tmp_path: Path) -> None:
    x, y = _data()
    x[7, 1, 4] = np.inf  # before the check, this zeroed every value of channel 1
    with pytest.raises(ValueError, match=r"X\[7\]: an infinite value at channel 1, step 4.*replace it by NaN"):
        FlexDataModule("series", path=_npz(tmp_path / "inf.npz", x, y))
    wide = x.astype(np.float64)
    wide[7, 1, 4] = 1e39  # beyond float32's range: read as inf
    with pytest.raises(ValueError, match=r"X\[7\]: an infinite value at channel 1, step 4"):
        FlexDataModule("series", path=_npz(tmp_path / "big.npz", wide, y))
    (tmp_path / "inf.csv").write_text("a,1,2,3\n\nb,3,-inf,1\n")
    with pytest.raises(ValueError, match=r"inf.csv, line 3: an infinite value at channel 0, step 1"):
        FlexDataModule("series", path=str(tmp_path / "inf.csv"))


def test_a_single_nan_is_a_missing_value_not_an_error(tmp_path: Path) -> None:
    x, y = _data()
    x[3, 0, 5] = np.nan
    np.savez(tmp_path / "nan.npz", X_train=x, y_train=y, X_test=x[:4], y_test=y[:4])
    dm = FlexDataModule("series", path=str(tmp_path / "nan.npz"), val_fraction=0.0)
    dm.setup()
    train_x = dm.train_set.dataset[:][0]
    assert float(train_x[3, 0, 5]) == 0.0 and float(train_x.abs().max()) > 1.0  # the rest is standardised, not zeroed


def test_a_series_without_a_finite_value_is_an_error(tmp_path: Path) -> None:
    x, y = _data()
    x[5] = np.nan
    with pytest.raises(ValueError, match=r"X\[5\]: no finite value.*remove the series"):
        FlexDataModule("series", path=_npz(tmp_path / "nan.npz", x, y))
    (tmp_path / "empty.csv").write_text("a,1,2,3\nb,,,\n")
    with pytest.raises(ValueError, match=r"empty.csv, line 2: no finite value"):
        FlexDataModule("series", path=str(tmp_path / "empty.csv"))


def test_a_channel_without_a_finite_training_value_is_an_error() -> None:
    x, y = _data(n=6)
    x[:, 1] = np.nan  # every series has values in channel 0, none in channel 1
    with pytest.raises(ValueError, match="channel 1 has no finite value in any training series"):
        prepare_pair(list(x), y, list(x[:2]), y[:2])


def test_one_training_class_is_an_error(tmp_path: Path) -> None:
    x, _ = _data()
    with pytest.raises(ValueError, match=r"one class only \(\['walk'\]\).*at least two"):
        FlexDataModule("series", path=_npz(tmp_path / "one.npz", x, np.array(["walk"] * len(x))))


def test_classes_too_small_for_the_split_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    x, y = _data(n=13)
    y = np.array(["a", "b"] * 6 + ["lonely"])  # one series: nothing to hold out for testing
    with caplog.at_level(logging.WARNING, logger="flexconv.data.series"):
        dm = FlexDataModule("series", path=_npz(tmp_path / "small.npz", x, y), val_fraction=0.0)
    assert "class 'lonely' has one series (series 12 in file order)" in caplog.text
    dm.setup()
    assert dm.record.num_classes == 3 and 2 in dm.train_set[:][1].tolist() and 2 not in dm.test_set[:][1].tolist()
    # a test class without training series: a warning, since the network can never predict it
    train, test = list(x[:4]), list(x[4:6])
    with caplog.at_level(logging.WARNING, logger="flexconv.data.uea"):
        prepare_pair(train, np.array([0, 1, 0, 1]), test, np.array([1, 7]))
    assert "classes that no training series has, [7]" in caplog.text


def test_series_of_other_channel_counts_are_named() -> None:
    x, y = _data(n=4)
    with pytest.raises(ValueError, match="test series 1 has 1 channels, the first training series 2"):
        prepare_pair(list(x), y, [x[0], x[1, :1]], y[:2])


def test_lengths_that_must_match_are_named(tmp_path: Path) -> None:
    x, y = _data()
    np.savez(tmp_path / "two.npz", X_train=x, y_train=y[:-1], X_test=x, y_test=y)
    with pytest.raises(ValueError, match="12 series in X_train but 11 labels in y_train"):
        FlexDataModule("series", path=str(tmp_path / "two.npz"))
    # unequal series lengths are not required to match: shorter series end in NaN and are padded at the start
    x[0, :, 15:] = np.nan
    dm = FlexDataModule("series", path=_npz(tmp_path / "ragged.npz", x, y), val_fraction=0.0)
    dm.setup()
    assert dm.record.length == 20 and torch.isfinite(dm.train_set[:][0]).all()
