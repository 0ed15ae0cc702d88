"""Readers of the datasets' own on-disk formats (so that small fake copies test the same code).

Each returns uint8 images ``(N, H, W, C)`` and int64 labels. torchvision is used to *download*
(``download=True``); reading is done here, because torchvision's readers insist on the MD5 sums
of the full files.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST format), gzipped or not -> array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    ndim = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``folder`` (e.g. train-images-idx3-ubyte)."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_mnist_like(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST / Fashion-MNIST IDX files in ``folder`` -> images (N, 28, 28, 1), labels (N,)."""
    prefix = "train" if train else "t10k"
    images = find_idx(folder, f"{prefix}-images-idx3-ubyte")
    labels = find_idx(folder, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        raise FileNotFoundError(folder)
    return read_idx(images)[..., None], read_idx(labels).astype(np.int64)


def read_cifar(folder: Path, train: bool, coarse_name: str = "fine_labels") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR python pickles: ``cifar-10-batches-py`` (data_batch_1..5, test_batch) or
    ``cifar-100-python`` (train, test) -> images (N, 32, 32, 3), labels (N,)."""
    if (folder / "cifar-10-batches-py").is_dir():
        base = folder / "cifar-10-batches-py"
        names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        label_key = "labels"
    elif (folder / "cifar-100-python").is_dir():
        base = folder / "cifar-100-python"
        names = ["train" if train else "test"]
        label_key = coarse_name
    else:
        raise FileNotFoundError(folder)
    images, labels = [], []
    for name in names:
        with open(base / name, "rb") as handle:
            entry = pickle.load(handle, encoding="latin1")
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(entry[label_key], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def read_stl10(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """STL-10 binaries ``stl10_binary/{train,test}_{X,y}.bin`` -> images (N, 96, 96, 3), labels 0..9."""
    base = folder / "stl10_binary"
    split = "train" if train else "test"
    x_path, y_path = base / f"{split}_X.bin", base / f"{split}_y.bin"
    if not (x_path.is_file() and y_path.is_file()):
        raise FileNotFoundError(base)
    images = np.fromfile(x_path, dtype=np.uint8).reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)  # column-major
    labels = np.fromfile(y_path, dtype=np.uint8).astype(np.int64) - 1
    return np.ascontiguousarray(images), labels


def read_downsampled_imagenet(folder: Path, resolution: int, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Downsampled ImageNet (Chrabaszcz et al. 2017): ``train_data_batch_1..10`` and ``val_data``
    (npz or pickle; ``data`` uint8 (N, 3*r*r), ``labels`` 1-based) -> images (N, r, r, 3), labels 0..999."""
    names = [f"train_data_batch_{i}" for i in range(1, 11)] if train else ["val_data"]
    images, labels = [], []
    for name in names:
        candidates = [folder / f"{name}.npz", folder / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            if train and images:
                break  # fewer batches than 10 (e.g. a subset) are fine
            raise FileNotFoundError(folder / name)
        if path.suffix == ".npz":
            entry = dict(np.load(path))
        else:
            with open(path, "rb") as handle:
                entry = pickle.load(handle)
        r = resolution
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, r, r).transpose(0, 2, 3, 1))
        labels.append(np.asarray(entry["labels"], dtype=np.int64) - 1)
    return np.concatenate(images), np.concatenate(labels)
