"""data=series: the user's own .npz / .csv / .ts files, their test split and their preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from flexconv.data import series
from flexconv.data.datamodule import FlexDataModule, build_dataset


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    series.load_series.cache_clear()  # files are rewritten under the same tmp names


def _npz(path: Path, **arrays: np.ndarray) -> str:
    np.savez(path, **arrays)
    return str(path)


def test_npz_without_test_split_holds_out_a_stratified_quarter(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(40, 3, 50)).astype(np.float32)
    y = np.array(["b"] * 28 + ["a"] * 12)
    path = _npz(tmp_path / "mine.npz", X=x, y=y)
    dm = FlexDataModule("series", path=path, val_fraction=0.0)
    assert (dm.record.in_channels, dm.record.num_classes, dm.record.length) == (3, 2, 50)
    dm.setup()
    train_x, train_y = dm.train_set[:]
    test_x, test_y = dm.test_set[:]
    assert len(train_y) == 30 and len(test_y) == 10  # 7 of 28 "b", 3 of 12 "a"
    assert int((test_y == 1).sum()) == 7 and int((test_y == 0).sum()) == 3  # classes in sorted order: a=0, b=1
    # Standardised per channel with the training split's statistics.
    assert torch.allclose(train_x.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(train_x.std(dim=(0, 2), unbiased=False), torch.ones(3), atol=1e-4)
    # The held-out series are the same for every training seed.
    other = FlexDataModule("series", path=path, val_fraction=0.0, seed=5)
    other.setup("test")
    assert torch.equal(other.test_set[:][0], test_x)


def test_npz_two_splits_univariate_and_shorter_series(tmp_path: Path) -> None:
    x_train = np.arange(24, dtype=np.float32).reshape(4, 6)  # (N, T): one channel
    x_train[0, 4:] = np.nan  # a series of 4 steps
    path = _npz(
        tmp_path / "both.npz",
        X_train=x_train,
        y_train=np.array([10, 9, 10, 9]),
        X_test=np.ones((3, 6), dtype=np.float32),
        y_test=np.array([9, 9, 10]),
    )
    train = build_dataset("series", "train", path=path, val_fraction=0.0)
    test = build_dataset("series", "test", path=path)
    x, y = train.dataset[:]  # all training series, in file order
    assert x.shape == (4, 1, 6) and len(test) == 3
    assert y.tolist() == [1, 0, 1, 0]  # numeric labels sort as numbers: 9 -> 0, 10 -> 1
    assert torch.equal(x[0, 0, :2], torch.zeros(2)) and bool((x[0, 0, 2:] != 0).all())  # start-padded, not NaN


def test_csv_with_train_test_files(tmp_path: Path) -> None:
    rows_train = ["walk,1,2,3,4", "run,4,3,2,1", "walk,1,2,3,5", "run,5,3,2,1", "sit,0,0,1,"]
    (tmp_path / "Moves_TRAIN.csv").write_text("\n".join(rows_train) + "\n")
    (tmp_path / "Moves_TEST.csv").write_text("run,5,4,3,2\nsit,1,1,1,1\n")
    dm = FlexDataModule("series", path=str(tmp_path / "Moves_TRAIN.csv"), val_fraction=0.0)
    assert (dm.record.in_channels, dm.record.num_classes, dm.record.length) == (1, 3, 4)
    dm.setup()
    assert len(dm.train_set) == 5 and len(dm.test_set) == 2
    assert dm.test_set[:][1].tolist() == [0, 1]  # run, sit, walk -> 0, 1, 2
    x_sit = dm.train_set.dataset[4][0]  # file order
    assert float(x_sit[0, 0]) == 0.0  # the 3-step series is padded at the start


def test_ts_file_and_explicit_test_path(tmp_path: Path) -> None:
    pytest.importorskip("aeon")
    header = (
        "@problemName toy\n@timeStamps false\n@univariate false\n@dimensions 2\n@equalLength true\n"
        "@seriesLength 3\n@classLabel true up down\n@data\n"
    )
    (tmp_path / "a.ts").write_text(header + "1,2,3:3,2,1:up\n3,2,1:1,2,3:down\n1,2,4:3,2,2:up\n")
    (tmp_path / "b.ts").write_text(header + "1,1,1:2,2,2:down\n")
    dm = FlexDataModule("series", path=str(tmp_path / "a.ts"), test_path=str(tmp_path / "b.ts"), val_fraction=0.0)
    assert (dm.record.in_channels, dm.record.num_classes, dm.record.length) == (2, 2, 3)
    dm.setup()
    assert len(dm.train_set) == 3 and dm.test_set[:][1].tolist() == [0]  # down=0, up=1


def test_bad_input_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data=series needs data.path"):
        FlexDataModule("series")
    with pytest.raises(ValueError, match="apply to data=series, not to mnist1d"):
        FlexDataModule("mnist1d", path="x.npz")
    with pytest.raises(FileNotFoundError, match="no file at"):
        FlexDataModule("series", path=str(tmp_path / "missing.npz"))
    (tmp_path / "data.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match="is not one of .npz, .ts, .csv"):
        FlexDataModule("series", path=str(tmp_path / "data.txt"))
    with pytest.raises(ValueError, match="needs arrays X and y"):
        FlexDataModule("series", path=_npz(tmp_path / "a.npz", data=np.zeros((3, 4))))
    with pytest.raises(ValueError, match="4 series in X but 3 labels"):
        FlexDataModule("series", path=_npz(tmp_path / "b.npz", X=np.zeros((4, 5)), y=np.zeros(3)))
    with pytest.raises(ValueError, match=r"shape \(N, T\) or \(N, C, T\)"):
        FlexDataModule("series", path=_npz(tmp_path / "c.npz", X=np.zeros((4, 5, 2, 2)), y=np.zeros(4)))
    (tmp_path / "bad.csv").write_text("a,1,x\n")
    with pytest.raises(ValueError, match="line 1"):
        FlexDataModule("series", path=str(tmp_path / "bad.csv"))
