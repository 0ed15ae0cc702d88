"""Your own time series: classification data from ``.npz``, ``.ts`` or CSV files (``data=series data.path=...``).

Formats (one file per split, or one ``.npz`` holding both):

* ``.npz`` (numpy): ``X`` (N, C, T) or (N, T) (one channel) and ``y`` (N,) labels; or
  ``X_train, y_train, X_test, y_test`` for both splits in one file. Series shorter than T end in
  NaN: steps after a series' last non-NaN value (over all channels) are not part of it.
* ``.ts`` (sktime/aeon format, as the UEA/UCR archive ships it; needs ``aeon``): univariate or
  multivariate, equal or unequal lengths.
* ``.csv`` (UCR style, univariate): one series per line, the label in the first column, then the
  values, comma-separated; empty cells are missing values, a line may be shorter than others.

Labels may be numbers or strings; they become classes 0..K-1 in sorted order.

The test split: ``test_path`` when given; else both splits of an ``.npz`` holding ``X_test``;
else the file beside ``path`` named with ``TEST`` in place of ``TRAIN`` (``Foo_TRAIN.ts`` ->
``Foo_TEST.ts``); else a stratified quarter of the series (at least one per class with two or
more series), drawn with a fixed seed (:data:`HOLDOUT_SEED`, the same for every training seed).
A class of one series is kept for training and not tested (a warning names it).

Preprocessing (the same as the bundled UEA sets, :mod:`flexconv.data.uea`): each channel is
standardised with the mean and std of the training split's observed values, shorter series are
zero-padded at the start to the longest series of either split (the last steps stay aligned with a
causal network's last step), and missing values become 0. x: (C, T) float32, y: int64.

Checks (:func:`flexconv.data.uea.check_series`, run as each file is read, and those of
:func:`~flexconv.data.uea.prepare_pair`): an infinite value (also a value beyond float32's range), a
series without a finite value, a channel without a finite value in the training split, series of
different channel counts, X and y of different lengths, or one class in the training split stop with
an error naming the file and the row (or line) and the fix.
"""

from __future__ import annotations

import csv
import functools
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import TensorDataset

from flexconv.data.records import DatasetRecord, LoadOptions
from flexconv.data.uea import check_series, prepare_pair, read_ts

log = logging.getLogger(__name__)

SUFFIXES = (".npz", ".ts", ".csv")
HOLDOUT_FRACTION = 0.25
"""Share of the series held out for testing when the data has no test split."""
HOLDOUT_SEED = 0

Split = tuple[list[np.ndarray], np.ndarray]  # series (C, T_i) float32, labels (N,)


def _trim(series: np.ndarray) -> np.ndarray:
    """A (C, T) series without its trailing steps that are NaN in every channel."""
    observed = np.flatnonzero(~np.isnan(series).all(axis=0))
    return series[:, : observed[-1] + 1] if observed.size else series[:, :1]


def _labels(values: np.ndarray, where: str) -> np.ndarray:
    """Labels as a 1D array; strings that all read as numbers become numbers (so "10" sorts after "9")."""
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind in "USO":
        try:
            return values.astype(np.float64)
        except ValueError:
            return values.astype(str)
    if values.dtype.kind not in "iufb":
        raise ValueError(f"{where}: labels must be numbers or strings, got dtype {values.dtype}")
    return values


def as_series(x: Any, where: str, name: str = "X") -> list[np.ndarray]:
    """Checked series (C, T_i) float32 without their trailing all-NaN steps (:func:`_trim`), from an array
    (N, T) or (N, C, T), or a sequence of N arrays (T_i,) or (C, T_i) (unequal lengths, as aeon returns them).

    where, name: the source and the array's name in messages (``"<file>: X_train[3]: ..."``).
    """
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf: check_series names it
        if isinstance(x, np.ndarray) or not isinstance(x, (list, tuple)):
            x = np.asarray(x, dtype=np.float32)
            if x.ndim == 2:
                x = x[:, None, :]
            if x.ndim != 3:
                raise ValueError(
                    f"{where}: {name} must have shape (N, T) or (N, C, T), got {x.shape}. Reshape your "
                    "data: one series x of shape (T,) is x[None]"
                )
            series = list(x)
        else:
            series = [np.asarray(s, dtype=np.float32) for s in x]
            series = [s[None, :] if s.ndim == 1 else s for s in series]
            for i, s in enumerate(series):
                if s.ndim != 2:
                    raise ValueError(f"{where}: {name}[{i}] must have shape (T,) or (C, T), got {s.shape}")
    if not series or any(s.shape[1] == 0 for s in series):
        raise ValueError(f"{where}: no data ({name} holds {len(series)} series, or an empty one)")
    check_series(series, lambda i: f"{where}: {name}[{i}]")
    return [_trim(s) for s in series]


def _from_arrays(x: np.ndarray, y: np.ndarray, where: str, name: str = "X") -> Split:
    """Validated (N, T) or (N, C, T) values and (N,) labels -> one split; ``name``: X's name in messages
    (``X_train``: its labels are ``y_train``)."""
    series, labels = as_series(x, where, name), _labels(y, where)
    if len(labels) != len(series):
        raise ValueError(f"{where}: {len(series)} series in {name} but {len(labels)} labels in y{name[1:]}")
    return series, labels


def _read_npz(path: Path) -> dict[str, Split]:
    """{"all": split} for ``X, y``; {"train": ..., "test": ...} for ``X_train, y_train, X_test, y_test``."""
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        if {"X_train", "y_train", "X_test", "y_test"} <= keys:
            return {
                split: _from_arrays(data[f"X_{split}"], data[f"y_{split}"], str(path), f"X_{split}")
                for split in ("train", "test")
            }
        if {"X", "y"} <= keys:
            return {"all": _from_arrays(data["X"], data["y"], str(path))}
    raise ValueError(
        f"{path}: an .npz needs arrays X and y, or X_train, y_train, X_test, y_test; it has {sorted(keys)}"
    )


def _read_csv(path: Path) -> Split:
    """UCR-style CSV: label, value, value, ... per line (univariate)."""
    series, labels, lines = [], [], []
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise ValueError(f"{path}, line {number}: expected a label and at least one value")
            try:
                values = [float(v) if v.strip() else np.nan for v in row[1:]]
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: {error} (a line is: label, value, value, ...)") from None
            series.append(_trim(np.asarray(values, dtype=np.float32)[None, :]))
            labels.append(row[0].strip())
            lines.append(number)
    if not series:
        raise ValueError(f"{path}: no series")
    check_series(series, lambda i: f"{path}, line {lines[i]}")
    return series, _labels(np.asarray(labels), str(path))


def read_file(path: Path) -> dict[str, Split]:
    """The splits in one file: {"all": ...} or {"train": ..., "test": ...} (a two-split .npz)."""
    if not path.is_file():
        raise FileNotFoundError(f"data=series: no file at {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".ts":
        return {"all": read_ts(path)}
    if suffix == ".csv":
        return {"all": _read_csv(path)}
    raise ValueError(f"data=series: {path} is not one of {', '.join(SUFFIXES)}")


def test_file(path: Path) -> Optional[Path]:
    """The ``TEST`` file beside a ``TRAIN`` file (``Foo_TRAIN.ts`` -> ``Foo_TEST.ts``), if it exists."""
    if "TRAIN" not in path.name:
        return None
    candidate = path.with_name(path.name.replace("TRAIN", "TEST"))
    return candidate if candidate.is_file() else None


def holdout(
    labels: np.ndarray, fraction: float = HOLDOUT_FRACTION, seed: int = HOLDOUT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: per class, a seeded ``round(fraction * n)`` of its n series (one at least when n >= 2;
    a class of one series is not tested, said in a warning)."""
    generator = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for label in np.unique(labels):
        members = generator.permutation(np.flatnonzero(labels == label))
        if len(members) == 1:
            log.warning(
                "data=series: class '%s' has one series (series %d in file order): it is trained on but not "
                "tested. To test it: add series of it, or give a test split (data.test_path)",
                label,
                members[0],
            )
        n_test = min(max(int(round(fraction * len(members))), 1), len(members) - 1) if len(members) > 1 else 0
        test.extend(members[:n_test])
        train.extend(members[n_test:])
    return np.sort(np.asarray(train, dtype=int)), np.sort(np.asarray(test, dtype=int))


def _subset(split: Split, index: np.ndarray) -> Split:
    return [split[0][i] for i in index], split[1][index]


@lru_cache(maxsize=8)
def load_series(
    path: str, test_path: Optional[str] = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Preprocessed train x (N, C, T), train y, test x, test y of the user's files (see the module docstring)."""
    source = Path(path)
    splits = read_file(source)
    if test_path is not None or "test" in splits:
        if test_path is not None and "test" in splits:
            raise ValueError(f"data=series: {path} holds a test split already; leave data.test_path unset")
        train = splits.get("train") or splits["all"]
        test = splits["test"] if test_path is None else read_file(Path(test_path)).get("all")
        if test is None:
            raise ValueError(f"data.test_path: {test_path} must hold one split (X and y), not X_train/X_test")
    elif test_file(source) is not None:
        found = test_file(source)
        assert found is not None  # the condition above
        train, test = splits["all"], read_file(found)["all"]
        log.info("data=series: testing on %s", found)
    else:
        train_index, test_index = holdout(splits["all"][1])
        train, test = _subset(splits["all"], train_index), _subset(splits["all"], test_index)
        log.info(
            "data=series: no test split in %s; holding out %d of %d series for testing",
            path,
            len(test_index),
            len(train_index) + len(test_index),
        )
    if train[1].dtype.kind != test[1].dtype.kind and {train[1].dtype.kind, test[1].dtype.kind} & {"U"}:
        raise ValueError("data=series: the train labels and the test labels must both be numbers or both strings")
    return prepare_pair(*train, *test)


def series_record(path: str, test_path: Optional[str] = None) -> DatasetRecord:
    """The record of the user's data (channels, classes and length read from the files), its loader bound to them."""
    train_x, train_y, test_x, test_y = load_series(path, test_path)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    return DatasetRecord(
        name="series",
        task="sequence",
        in_channels=train_x.shape[1],
        num_classes=num_classes,
        data_dim=1,
        length=train_x.shape[2],
        loader=functools.partial(load, path=path, test_path=test_path),
    )


def load(
    record: DatasetRecord, split: str, options: LoadOptions, *, path: str, test_path: Optional[str]
) -> TensorDataset:
    """The training or test split of the user's data: x (C, T) float32, y int64."""
    train_x, train_y, test_x, test_y = load_series(path, test_path)
    return TensorDataset(train_x, train_y) if split == "train" else TensorDataset(test_x, test_y)
