"""Tiny copies of the downloadable datasets in their real on-disk formats.

Used by the tests (and handy for smoke-testing a training command without the real data):
``make_fake_tree(name, root)`` writes a few random examples where :class:`FlexDataModule`
looks for dataset ``name`` and returns ``root``. Each record names its writer (``record.fake``,
one ``write_<format>`` function below); a dataset built on another's files (``record.source``)
uses that one's.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import wave
from pathlib import Path

import numpy as np

from flexconv.data.records import DatasetRecord, get_record, resolve


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _mnist_like(folder: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    """Gzipped IDX files as torchvision lays them out."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))


def write_mnist(record: DatasetRecord, root: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    _mnist_like(root / "MNIST" / "raw", n_train, n_test, rng)


def write_fashion_mnist(record: DatasetRecord, root: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    _mnist_like(root / "FashionMNIST" / "raw", n_train, n_test, rng)


def write_cifar(record: DatasetRecord, root: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    """The python pickles of CIFAR-10 or CIFAR-100 (``record.num_classes``)."""
    classes = record.num_classes
    if classes == 10:
        base = root / "cifar-10-batches-py"
        files = {f"data_batch_{i}": n_train for i in range(1, 6)} | {"test_batch": n_test}
        label_key = "labels"
    else:
        base = root / "cifar-100-python"
        files = {"train": n_train, "test": n_test}
        label_key = "fine_labels"
    base.mkdir(parents=True, exist_ok=True)
    for name, n in files.items():
        entry = {
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            label_key: rng.integers(0, classes, n).tolist(),
        }
        if classes == 100:
            entry["coarse_labels"] = rng.integers(0, 20, n).tolist()
        with open(base / name, "wb") as handle:
            pickle.dump(entry, handle)
    meta = (
        {"label_names": [f"class{i}" for i in range(10)]}
        if classes == 10
        else {
            "fine_label_names": [f"class{i}" for i in range(100)],
            "coarse_label_names": [f"super{i}" for i in range(20)],
        }
    )
    with open(base / ("batches.meta" if classes == 10 else "meta"), "wb") as handle:
        pickle.dump(meta, handle)


def write_stl10(record: DatasetRecord, root: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    base = root / "stl10_binary"
    base.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8).tofile(base / f"{split}_X.bin")
        rng.integers(1, 11, n, dtype=np.uint8).tofile(base / f"{split}_y.bin")


def write_imagenet(
    record: DatasetRecord, root: Path, n_train: int, n_test: int, rng: np.random.Generator, npz: bool = True
) -> None:
    """Two training batches and the validation batch in ``<root>/<name>``, as npz files or as pickles (both
    formats are distributed)."""
    assert record.resolution is not None  # image records have one
    resolution = record.resolution[0]
    base = root / record.name
    base.mkdir(parents=True, exist_ok=True)
    for name, n in (("train_data_batch_1", n_train), ("train_data_batch_2", n_train), ("val_data", n_test)):
        entry = {
            "data": rng.integers(0, 256, (n, 3 * resolution * resolution), dtype=np.uint8),
            "labels": rng.integers(1, 1001, n).tolist(),
            "mean": np.zeros(3 * resolution * resolution),
        }
        if npz:
            np.savez(base / f"{name}.npz", **entry)
        else:
            with open(base / name, "wb") as handle:
                pickle.dump(entry, handle)


def write_speech_commands(
    record: DatasetRecord, root: Path, n_train: int, n_test: int, rng: np.random.Generator
) -> None:
    """35 words of 4 clips each, whatever the sizes: 3 of 16,000 samples (one per split) and a shorter training clip."""
    words = 35
    base = root / "SpeechCommands" / "speech_commands_v0.02"
    val: list[str] = []
    test: list[str] = []
    names = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]  # the paper's words first
    for w in range(words):
        word = names[w] if w < len(names) else f"word{w:02d}"
        folder = base / word
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(4):  # clips 0-2: full length (train, val, test); clip 3: a shorter training clip
            path = folder / f"clip{i}.wav"
            with wave.open(str(path), "wb") as handle:
                handle.setnchannels(1)
                handle.setsampwidth(2)
                handle.setframerate(16000)
                length = 16000 if i < 3 else int(rng.integers(8000, 16000))
                handle.writeframes((rng.standard_normal(length) * 3000).astype("<i2").tobytes())
            (val if i == 1 else test if i == 2 else []).append(f"{word}/clip{i}.wav")
    (base / "validation_list.txt").write_text("\n".join(val) + "\n")
    (base / "testing_list.txt").write_text("\n".join(test) + "\n")


def write_char_trajectories(
    record: DatasetRecord, root: Path, n_train: int, n_test: int, rng: np.random.Generator
) -> None:
    base = root / "CharacterTrajectories"
    base.mkdir(parents=True, exist_ok=True)
    labels = [str(i) for i in range(1, 21)]
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        lines = [
            "@problemName CharacterTrajectories",
            "@timeStamps false",
            "@missing false",
            "@univariate false",
            "@dimensions 3",
            "@equalLength false",
            f"@classLabel true {' '.join(labels)}",
            "@data",
        ]
        for i in range(n):
            length = int(rng.integers(60, 183))
            dims = [",".join(f"{v:.4f}" for v in rng.standard_normal(length)) for _ in range(3)]
            lines.append(":".join(dims) + f":{labels[i % 20]}")
        (base / f"CharacterTrajectories_{split}.ts").write_text("\n".join(lines) + "\n")


def make_fake_tree(name: str, root: str | Path, n_train: int = 20, n_test: int = 10, seed: int = 0) -> Path:
    """Write a tiny copy of dataset ``name`` (or of the dataset it is built on) under ``root``; returns ``root``.

    n_train, n_test: examples per file (CIFAR-10 has 5 training batches, ImageNet 2; Speech Commands
    always gets 4 clips per word: 3 of 16,000 samples, one per split, and a shorter training clip).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    record = get_record(name)
    owner = get_record(record.source) if record.source else record
    if owner.fake is None:
        raise ValueError(f"{name} needs no files (generated or shipped in a package)")
    resolve(owner.fake)(owner, root, n_train, n_test, np.random.default_rng(seed))
    return root
