"""UEA/UCR classification sets: those shipped inside the aeon package, and CharacterTrajectories.

Series are read from the archive's ``.ts`` files with ``aeon.datasets.load_from_ts_file`` (no
network). Unequal-length series are zero-padded at the start to the longest one, so the most
recent samples stay aligned with a causal network's last step. ``drop_rate`` makes them
irregularly sampled as in the CKConv/FlexConv papers' CharacterTrajectories study: that share of
each series' time steps is removed at random (seeded, fixed per series) and the remaining
samples, in order, are zero-padded at the start to the original length.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from flexconv.data.records import DatasetNotFoundError, DatasetRecord


def aeon_data_dir() -> Optional[Path]:
    """Folder holding aeon's bundled datasets, or None when aeon is not installed."""
    try:
        import aeon.datasets
    except ImportError:
        return None
    return Path(aeon.datasets.__file__).parent / "data"


def _read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Series (list of (C, L_i) arrays) and string labels of one .ts file."""
    from aeon.datasets import load_from_ts_file

    x, y = load_from_ts_file(str(path))
    series = [np.asarray(s, dtype=np.float32) for s in x]
    return series, np.asarray(y)


def _pad_start(series: list[np.ndarray], length: int) -> np.ndarray:
    """Zero-pad each (C, L_i) series at the start to (C, length); NaNs become 0."""
    out = np.zeros((len(series), series[0].shape[0], length), dtype=np.float32)
    for i, s in enumerate(series):
        s = np.nan_to_num(s[:, -length:])
        out[i, :, length - s.shape[1]:] = s
    return out


def drop_samples(x: torch.Tensor, drop_rate: float, seed: int) -> torch.Tensor:
    """Remove ``drop_rate`` of the time steps of each series (N, C, L); keep order; pad at the start."""
    if drop_rate <= 0:
        return x
    if not 0 < drop_rate < 1:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
    n, _, length = x.shape
    keep = length - int(round(drop_rate * length))
    generator = torch.Generator().manual_seed(seed)
    out = torch.zeros_like(x)
    for i in range(n):
        kept = torch.randperm(length, generator=generator)[:keep].sort().values
        out[i, :, length - keep:] = x[i, :, kept]
    return out


@lru_cache(maxsize=None)
def _load_split(train_path: str, test_path: str, min_length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both splits padded to a common length (>= min_length), labels mapped to 0..K-1 (sorted names)."""
    train_x, train_y = _read_ts(Path(train_path))
    test_x, test_y = _read_ts(Path(test_path))
    length = max([min_length] + [s.shape[1] for s in train_x + test_x])
    classes = {label: i for i, label in enumerate(sorted(set(train_y) | set(test_y)))}
    to_labels = lambda ys: torch.tensor([classes[y] for y in ys], dtype=torch.long)  # noqa: E731
    return (torch.from_numpy(_pad_start(train_x, length)), to_labels(train_y),
            torch.from_numpy(_pad_start(test_x, length)), to_labels(test_y))


def _standardise(train: torch.Tensor, other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel zero mean / unit variance with the training split's statistics."""
    mean = train.mean(dim=(0, 2), keepdim=True)
    std = train.std(dim=(0, 2), keepdim=True).clamp_min(1e-6)
    return (train - mean) / std, (other - mean) / std


def ts_dataset(train_path: Path, test_path: Path, split: str, drop_rate: float, seed: int, min_length: int = 0) -> Dataset:
    """TensorDataset of (C, L) series and labels for ``split`` ("train" or "test")."""
    train_x, train_y, test_x, test_y = _load_split(str(train_path), str(test_path), min_length)
    train_x, test_x = _standardise(train_x, test_x)
    x, y = (train_x, train_y) if split == "train" else (test_x, test_y)
    return TensorDataset(drop_samples(x, drop_rate, seed + (split != "train")), y)


def bundled_uea_records() -> list[DatasetRecord]:
    """A record ``uea_<name>`` per classification set with TRAIN/TEST .ts files in aeon's data folder."""
    folder = aeon_data_dir()
    if folder is None or not folder.is_dir():
        return []
    records = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        train, test = sub / f"{sub.name}_TRAIN.ts", sub / f"{sub.name}_TEST.ts"
        if not (train.is_file() and test.is_file()) or sub.name == "UnitTest":
            continue
        info, test_info = _ts_header(train), _ts_header(test)
        if info is None or test_info is None:
            continue
        channels, length, num_classes = info
        length = max(length, test_info[1])
        records.append(DatasetRecord(f"uea_{sub.name.lower()}", "sequence", channels, num_classes, 1, length=length))
    return records


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


def char_trajectories_files(root: str) -> tuple[Path, Path]:
    """The CharacterTrajectories TRAIN/TEST .ts files under ``root`` (or DatasetNotFoundError)."""
    from flexconv.data.records import get_record

    folder = Path(root) / "CharacterTrajectories"
    train, test = folder / "CharacterTrajectories_TRAIN.ts", folder / "CharacterTrajectories_TEST.ts"
    if not (train.is_file() and test.is_file()):
        raise DatasetNotFoundError(
            f"char_trajectories: no {train.name}/{test.name} in {folder}. To fix: "
            + get_record("char_trajectories").download_hint.replace("<root>", str(root))
        )
    return train, test


def uea_files(name: str) -> tuple[Path, Path]:
    """TRAIN/TEST .ts files of a bundled set ``uea_<name>``."""
    folder = aeon_data_dir()
    matches = [p for p in folder.iterdir() if p.is_dir() and p.name.lower() == name] if folder else []
    if not matches:
        raise DatasetNotFoundError(f"uea_{name}: not found among aeon's bundled datasets; pip install aeon")
    sub = matches[0]
    return sub / f"{sub.name}_TRAIN.ts", sub / f"{sub.name}_TEST.ts"
