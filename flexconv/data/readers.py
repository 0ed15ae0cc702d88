"""Readers of the image datasets' own on-disk formats (so that small fake copies test the same code).

Each returns uint8 images ``(N, H, W, C)`` and int64 labels ``(N,)`` starting at 0, or raises
FileNotFoundError. torchvision is used to *download* (``download=True``); reading is done here,
because torchvision's readers check the MD5 sums of the full files (which tiny fakes cannot
match) and do not know the Debian Fashion-MNIST folder or downsampled ImageNet.

The CIFAR and downsampled-ImageNet pickles are read by :func:`load_data_pickle`, which admits only
what those files hold (dicts, lists, strings, bytes, numbers and numpy arrays): ``pickle.load`` would
run whatever function a crafted file in the data root names.
"""

from __future__ import annotations

import gzip
import logging
import math
import pickle
from pathlib import Path
from typing import Any, Optional

import numpy as np

log = logging.getLogger(__name__)

DATA_PICKLE_GLOBALS = frozenset(
    {
        *(
            (core, name)
            for core in ("numpy.core.multiarray", "numpy._core.multiarray")
            for name in ("_reconstruct", "scalar")
        ),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),  # arrays, pickle protocol 5
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes in a protocol-2 pickle written by Python 3
    }
)
"""The only callables a data pickle may name: the numpy array helpers (numpy 1 and 2 module names)."""


class ForbiddenPickleError(pickle.UnpicklingError):
    """A data file names a callable that the dataset's pickles never hold (it could run code)."""


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that looks up only :data:`DATA_PICKLE_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in DATA_PICKLE_GLOBALS:
            raise ForbiddenPickleError(f"{module}.{name}")
        return super().find_class(module, name)


def load_data_pickle(path: Path, encoding: str = "ASCII") -> Any:
    """The object in the pickle file ``path`` (``encoding``: of Python 2 strings, as ``pickle.load``),
    made of dicts, lists, strings, bytes, numbers and numpy arrays only; any other callable named in the
    file raises :class:`ForbiddenPickleError` naming the file, before anything is called."""
    with open(path, "rb") as handle:
        try:
            return _DataUnpickler(handle, encoding=encoding).load()
        except ForbiddenPickleError as error:
            raise ForbiddenPickleError(
                f"{path} is not a dataset pickle: it names {error}, and data files may hold only dicts, lists, "
                "strings, bytes, numbers and numpy arrays (refused without running it; replace the file with "
                "the dataset's own)"
            ) from None


def read_idx(path: Path) -> np.ndarray:
    """An unsigned-byte IDX file (MNIST format), gzipped or not -> array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    ndim = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folder: Path, stem: str) -> Optional[Path]:
    """``stem`` or ``stem.gz`` in ``folder`` (e.g. train-images-idx3-ubyte), else None."""
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
    log.info("reading %s and %s", images, labels)
    return read_idx(images)[..., None], read_idx(labels).astype(np.int64)


def read_cifar(root: Path, train: bool, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR python pickles -> images (N, 32, 32, 3), labels (N,).

    ``classes`` 10: ``<root>/cifar-10-batches-py/data_batch_1..5`` and ``test_batch``;
    100: ``<root>/cifar-100-python/train`` and ``test`` (the 100 fine labels).
    """
    if classes == 10:
        base, label_key = root / "cifar-10-batches-py", "labels"
        files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    else:
        base, label_key = root / "cifar-100-python", "fine_labels"
        files = ["train" if train else "test"]
    paths = [base / f for f in files]
    if not all(p.is_file() for p in paths):
        raise FileNotFoundError(base)
    images, labels = [], []
    for path in paths:
        entry = load_data_pickle(path, encoding="latin1")
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(entry[label_key], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def read_stl10(root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """STL-10 binaries ``<root>/stl10_binary/{train,test}_{X,y}.bin`` -> images (N, 96, 96, 3), labels 0..9.

    The X files hold (N, 3, 96, 96) uint8 stored column-major per image, the y files labels 1..10.
    """
    base = root / "stl10_binary"
    split = "train" if train else "test"
    x_path, y_path = base / f"{split}_X.bin", base / f"{split}_y.bin"
    if not (x_path.is_file() and y_path.is_file()):
        raise FileNotFoundError(base)
    images = np.fromfile(x_path, dtype=np.uint8).reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)
    labels = np.fromfile(y_path, dtype=np.uint8).astype(np.int64) - 1
    return np.ascontiguousarray(images), labels


def _find_batch(folder: Path, name: str) -> Optional[Path]:
    """``name`` or ``name.npz`` in ``folder`` or one of its sub-folders (the zips unpack into one)."""
    for directory in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())] if folder.is_dir() else []:
        for candidate in (directory / f"{name}.npz", directory / name):
            if candidate.is_file():
                return candidate
    return None


def read_downsampled_imagenet(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Downsampled ImageNet (Chrabaszcz et al. 2017) -> images (N, r, r, 3), labels 0..999.

    Files ``train_data_batch_1..10`` and ``val_data``, npz or pickle, each a dict with ``data``
    uint8 (N, 3*r*r) (planes R, G, B; r read from the width) and ``labels`` 1..1000. Fewer than 10
    training batches (a subset) are accepted.
    """
    names = [f"train_data_batch_{i}" for i in range(1, 11)] if train else ["val_data"]
    paths = [p for p in (_find_batch(folder, n) for n in names) if p is not None]
    if not paths:
        raise FileNotFoundError(folder / names[0])
    images, labels = [], []
    for path in paths:
        log.info("reading %s", path)
        if path.suffix == ".npz":
            with np.load(path) as entry:
                data, batch_labels = entry["data"], entry["labels"]
        else:
            entry = load_data_pickle(path)
            data, batch_labels = entry["data"], entry["labels"]
        data = np.asarray(data, dtype=np.uint8)
        resolution = math.isqrt(data.shape[1] // 3)
        images.append(data.reshape(-1, 3, resolution, resolution).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch_labels, dtype=np.int64) - 1)
    return np.concatenate(images), np.concatenate(labels)
