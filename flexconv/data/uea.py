"""UEA/UCR classification sets: those shipped inside the aeon package, and CharacterTrajectories.

Series are read from the archive's ``.ts`` files with ``aeon.datasets.load_from_ts_file`` (no
network). Labels are mapped to 0..K-1 in sorted order of their names. Each channel is
standardised with the mean and std of the training split's (real, unpadded) samples;
unequal-length series (e.g. JapaneseVowels, 7..29 steps) are then zero-padded at the start to the
longest series of either split, so the most recent samples stay aligned with a causal network's
last step. Missing values (NaN) become 0. x: (C, L), y: int64.

Nothing is zeroed silently (:func:`check_series`, :func:`prepare_pair`): an infinite value, a series
without one finite value, a channel without one finite value in the training split, series with
different channel counts, or a training split of one class stop with an error that names the series
or the channel and the fix; test classes that no training series has are named in a warning.

``drop_rate`` (CKConv/FlexConv irregular-sampling study) removes that share (``int(rate * L)``
steps) of each series' time steps at random, seeded and fixed per series, in one of two ways:

* ``drop_mode="remove"`` (default): the remaining samples keep their order and are zero-padded at
  the start to the original length, (C, L): the network sees a shorter, irregularly sampled series.
* ``drop_mode="mask"`` (what the released CKConv code does): dropped steps are set to 0 and a
  channel that is 1 where a sample was observed and 0 where it was dropped is appended, (C + 1, L).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.utils.data import TensorDataset

from flexconv.data.records import DatasetNotFoundError, DatasetRecord, LoadOptions

log = logging.getLogger(__name__)

DROP_MODES = ("remove", "mask")


def aeon_data_dir() -> Optional[Path]:
    """Folder holding aeon's bundled datasets, or None when aeon is not installed.

    Found through the package's import spec, without importing aeon (which takes seconds).
    """
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def _pad_start(series: Sequence[np.ndarray], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Series (C, L_i) -> values (N, C, length), zero-padded at the start, and the mask of real steps (N, 1, length)."""
    values = torch.zeros(len(series), series[0].shape[0], length)
    real = torch.zeros(len(series), 1, length, dtype=torch.bool)
    for i, s in enumerate(series):
        s = s[:, -length:]
        values[i, :, length - s.shape[1] :] = torch.from_numpy(s)
        real[i, :, length - s.shape[1] :] = True
    return values, real


def check_series(series: Sequence[np.ndarray], describe: Callable[[int], str]) -> None:
    """Raise ValueError at the first series (C, L_i) with an infinite value or without any finite value.

    describe: the name of series i in the message (``"X[3]"``, ``"data.csv, line 4"``). A NaN is a missing
    value (it becomes 0 after standardisation); an infinite value would make the channel's statistics
    infinite and so every value of the channel 0, and a series of NaN only would be a series of zeros.
    """
    for i, s in enumerate(series):
        infinite = np.argwhere(np.isinf(s))
        if infinite.size:
            channel, step = infinite[0]
            raise ValueError(
                f"{describe(i)}: an infinite value at channel {channel}, step {step} (or a value beyond float32's "
                f"±3.4e38). To fix: replace it by NaN, a missing value, or by a finite value"
            )
        if not np.isfinite(s).any():
            raise ValueError(
                f"{describe(i)}: no finite value (every step is missing). To fix: remove the series "
                "or fill in its values"
            )


def read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Series (list of (C, L_i) float arrays) and string labels of one .ts file (needs aeon), checked by
    :func:`check_series`."""
    from aeon.datasets import load_from_ts_file

    log.info("reading %s", path)
    x, y = load_from_ts_file(str(path))
    series = [np.asarray(s, dtype=np.float32) for s in x]
    check_series(series, lambda i: f"{path}, series {i} (counted from 0)")
    return series, np.asarray(y)


def check_classes(train_labels: np.ndarray, test_labels: np.ndarray) -> None:
    """Raise ValueError for a training split of fewer than two classes; warn of test classes that no
    training series has (the network cannot predict them: each of their series counts as an error)."""
    classes = set(train_labels.tolist())
    if len(classes) < 2:
        raise ValueError(
            f"the training split holds one class only ({sorted(classes)}): a classifier needs at least "
            "two. To fix: add series of another class"
        )
    unseen = sorted(set(test_labels.tolist()) - classes)
    if unseen:
        log.warning(
            "the test split holds classes that no training series has, %s: their series count as errors", unseen
        )


def check_channels(train_series: Sequence[np.ndarray], test_series: Sequence[np.ndarray]) -> None:
    """Raise ValueError naming the first series whose channel count is not the first training series'."""
    channels = train_series[0].shape[0]
    for split, group in (("training", train_series), ("test", test_series)):
        for i, s in enumerate(group):
            if s.shape[0] != channels:
                raise ValueError(
                    f"{split} series {i} has {s.shape[0]} channels, the first training series {channels}: "
                    "every series needs the same channels. To fix: give every series the same channels "
                    "(a channel missing from a series as NaN)"
                )


@dataclass(frozen=True)
class Standardiser:
    """Per-channel mean and std (1, C, 1) of some series' observed values, and the preprocessing they define:
    standardise, zero-pad at the start, missing values to 0."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, series: Sequence[np.ndarray], length: Optional[int] = None) -> Standardiser:
        """The statistics of ``series`` (C, L_i), each channel over every observed (non-NaN) value; a channel
        without one is a ValueError. length: the padded length they are summed over (default: the longest
        series; it changes only the float rounding of the sums)."""
        x, real = _pad_start(series, length or max(s.shape[1] for s in series))
        observed = real & ~torch.isnan(x)  # (N, C, L)
        count = observed.sum(dim=(0, 2))
        if not bool(count.all()):
            channel = int(torch.nonzero(count == 0)[0])
            raise ValueError(
                f"channel {channel} has no finite value in any training series: standardised it would be "
                "0 everywhere. To fix: fill it in, or drop the channel from every series"
            )
        mean = torch.where(observed, x, 0.0).sum(dim=(0, 2)) / count
        var = torch.where(observed, (x - mean.view(1, -1, 1)) ** 2, 0.0).sum(dim=(0, 2)) / count
        return cls(mean.view(1, -1, 1), var.sqrt().clamp_min(1e-6).view(1, -1, 1))

    def __call__(self, series: Sequence[np.ndarray], length: int) -> torch.Tensor:
        """Series (C, L_i) -> (N, C, length): standardised, zero-padded at the start, NaN -> 0."""
        x, real = _pad_start(series, length)
        return torch.nan_to_num(torch.where(real, (x - self.mean) / self.std, 0.0))


def prepare_pair(
    train_series: list[np.ndarray],
    train_labels: np.ndarray,
    test_series: list[np.ndarray],
    test_labels: np.ndarray,
    min_length: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The preprocessing of the module docstring: series (C, L_i) and labels of both splits -> train x (N, C, L),
    train y, test x, test y, with L = max(``min_length``, longest series).

    Labels (any sortable values) become 0..K-1 in sorted order over both splits. Checked first: the
    channels (:func:`check_channels`), the classes (:func:`check_classes`) and that every channel has a
    finite value in the training split (the series themselves are checked where they are read).
    """
    check_channels(train_series, test_series)
    check_classes(train_labels, test_labels)
    length = max([min_length] + [s.shape[1] for s in train_series + test_series])
    standardise = Standardiser.fit(train_series, length)
    classes = {label: i for i, label in enumerate(sorted(set(train_labels.tolist()) | set(test_labels.tolist())))}
    to_labels = lambda ys: torch.tensor([classes[y] for y in ys.tolist()], dtype=torch.long)  # noqa: E731
    return (
        standardise(train_series, length),
        to_labels(train_labels),
        standardise(test_series, length),
        to_labels(test_labels),
    )


@cache
def load_ts_pair(
    train_path: str, test_path: str, min_length: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardised, start-padded train x (N, C, L), train y, test x, test y; L >= ``min_length``."""
    return prepare_pair(*read_ts(Path(train_path)), *read_ts(Path(test_path)), min_length=min_length)


def drop_samples(x: torch.Tensor, drop_rate: float, seed: int, mode: str = "remove") -> torch.Tensor:
    """Drop ``int(drop_rate * L)`` random time steps of each series in x (N, C, L); see the module docstring.

    Returns (N, C, L) for ``mode="remove"``, (N, C + 1, L) for ``mode="mask"``; x itself when drop_rate is 0.
    """
    if mode not in DROP_MODES:
        raise ValueError(f"drop_mode must be one of {DROP_MODES}, got {mode!r}")
    if drop_rate == 0:
        return x
    if not 0 < drop_rate < 1:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
    n, channels, length = x.shape
    dropped = int(drop_rate * length)
    generator = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, channels + (mode == "mask"), length)
    for i in range(n):
        order = torch.randperm(length, generator=generator)
        if mode == "remove":
            kept = order[dropped:].sort().values
            out[i, :, dropped:] = x[i, :, kept]
        else:
            out[i, :channels] = x[i]
            out[i, :, order[:dropped]] = 0.0
            out[i, channels] = 1.0
            out[i, channels, order[:dropped]] = 0.0
    return out


def ts_dataset(
    train_path: Path,
    test_path: Path,
    train: bool,
    drop_rate: float = 0.0,
    drop_mode: str = "remove",
    seed: int = 0,
    min_length: int = 0,
) -> TensorDataset:
    """The training or test split of a TRAIN/TEST .ts pair: x (C, L) float (C + 1 with drop_mode "mask"), y int64.

    The dropped steps are drawn with seed ``2 * seed`` (train) or ``2 * seed + 1`` (test).
    """
    train_x, train_y, test_x, test_y = load_ts_pair(str(train_path), str(test_path), min_length)
    x, y = (train_x, train_y) if train else (test_x, test_y)
    return TensorDataset(drop_samples(x, drop_rate, 2 * seed + (not train), drop_mode), y)


def _ts_header(path: Path) -> Optional[tuple[int, int, int]]:
    """(channels, max length, classes) from a .ts header and a scan of its data lines; None if not classification."""
    labels: list[str] = []
    dims, length, in_data = 1, 0, False
    with path.open(errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            low = line.lower()
            if low.startswith("@classlabel"):
                parts = line.split()
                if len(parts) < 2 or parts[1].lower() != "true":
                    return None
                labels = parts[2:]
            elif low.startswith("@dimension"):
                dims = int(line.split()[1])
            elif low.startswith("@data"):
                in_data = True
            elif in_data:
                channels = line.split(":")[:-1]
                dims = max(dims, len(channels))
                length = max(length, max(len(c.split(",")) for c in channels))
    if not labels or length == 0:
        return None
    return dims, length, len(labels)


def bundled_uea_records() -> list[DatasetRecord]:
    """A record ``uea_<lowercase name>`` per classification set with TRAIN/TEST .ts files in aeon's data folder.

    aeon's ``UnitTest`` set (a slice of Chinatown kept for aeon's own tests) is left out. The
    registry (:data:`flexconv.data.records.DATASETS`) calls this on its first listing.
    """
    folder = aeon_data_dir()
    if folder is None or not folder.is_dir():
        return []
    records = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        train, test = sub / f"{sub.name}_TRAIN.ts", sub / f"{sub.name}_TEST.ts"
        if sub.name == "UnitTest" or not (train.is_file() and test.is_file()):
            continue
        info, test_info = _ts_header(train), _ts_header(test)
        if info is None or test_info is None:
            continue
        channels, length, num_classes = info
        records.append(
            DatasetRecord(
                name=f"uea_{sub.name.lower()}",
                task="sequence",
                in_channels=channels,
                num_classes=num_classes,
                data_dim=1,
                length=max(length, test_info[1]),
                loader=load_bundled,
                irregular=True,
            )
        )
    return records


def char_trajectories_files(record: DatasetRecord, root: str, download: bool = False) -> tuple[Path, Path]:
    """The CharacterTrajectories TRAIN/TEST .ts files under ``<root>/CharacterTrajectories``.

    download: fetch them with aeon (timeseriesclassification.com) when missing. Raises
    DatasetNotFoundError, with the fix (``record``'s hint), when they are missing and cannot be fetched.
    """
    folder = Path(root) / "CharacterTrajectories"
    train, test = folder / "CharacterTrajectories_TRAIN.ts", folder / "CharacterTrajectories_TEST.ts"
    reason = f"no {train.name} / {test.name} in {folder.resolve()}"
    if download and not (train.is_file() and test.is_file()):
        from aeon.datasets import load_classification

        log.info("downloading CharacterTrajectories into %s with aeon", root)
        try:
            load_classification("CharacterTrajectories", extract_path=str(root))
        except (OSError, ValueError) as error:
            reason += f"; download failed ({error})"
    if not (train.is_file() and test.is_file()):
        raise DatasetNotFoundError(f"{record.name}: {reason}. To fix: {record.hint(str(Path(root).resolve()))}")
    return train, test


def uea_files(name: str) -> tuple[Path, Path]:
    """TRAIN/TEST .ts files of the bundled set ``uea_<name>`` (``name`` in lower case)."""
    folder = aeon_data_dir()
    matches = [p for p in folder.iterdir() if p.is_dir() and p.name.lower() == name] if folder else []
    if not matches:
        raise DatasetNotFoundError(f"uea_{name}: not among aeon's bundled datasets. To fix: pip install 'aeon>=1.0,<2'")
    sub = matches[0]
    return sub / f"{sub.name}_TRAIN.ts", sub / f"{sub.name}_TEST.ts"


# -- the loaders of the records (flexconv.data.records) ----------------------------------------------
def load_char_trajectories(record: DatasetRecord, split: str, options: LoadOptions) -> TensorDataset:
    """CharacterTrajectories from ``<root>/CharacterTrajectories``, padded to ``record.length`` steps."""
    files = char_trajectories_files(record, options.root, options.download)
    assert record.length is not None  # the record gives the padded length
    return ts_dataset(
        *files, split == "train", options.drop_rate, options.drop_mode, options.seed, min_length=record.length
    )


def load_bundled(record: DatasetRecord, split: str, options: LoadOptions) -> TensorDataset:
    """The bundled set ``uea_<name>`` from aeon's data folder."""
    return ts_dataset(
        *uea_files(record.name.removeprefix("uea_")),
        split == "train",
        options.drop_rate,
        options.drop_mode,
        options.seed,
    )
