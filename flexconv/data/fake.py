"""Tiny copies of the downloadable datasets in their real on-disk formats.

Used by the tests (and handy for smoke-testing a training command without the real data):
``make_fake_tree(name, root)`` writes a few random examples where :class:`FlexDataModule`
looks for dataset ``name`` and returns ``root``.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import wave
from pathlib import Path

import numpy as np


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _mnist_like(folder: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))


def _cifar(root: Path, classes: int, n_train: int, n_test: int, rng: np.random.Generator) -> None:
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
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), label_key: rng.integers(0, classes, n).tolist()}
        if classes == 100:
            entry["coarse_labels"] = rng.integers(0, 20, n).tolist()
        with open(base / name, "wb") as handle:
            pickle.dump(entry, handle)
    meta = ({"label_names": [f"class{i}" for i in range(10)]} if classes == 10 else
            {"fine_label_names": [f"class{i}" for i in range(100)], "coarse_label_names": [f"super{i}" for i in range(20)]})
    with open(base / ("batches.meta" if classes == 10 else "meta"), "wb") as handle:
        pickle.dump(meta, handle)


def _stl10(root: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    base = root / "stl10_binary"
    base.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8).tofile(base / f"{split}_X.bin")
        rng.integers(1, 11, n, dtype=np.uint8).tofile(base / f"{split}_y.bin")


def _imagenet(root: Path, resolution: int, n_train: int, n_test: int, rng: np.random.Generator, npz: bool) -> None:
    """Two training batches and the validation batch, as npz files or as pickles (both formats are distributed)."""
    base = root / f"imagenet{resolution}"
    base.mkdir(parents=True, exist_ok=True)
    for name, n in (("train_data_batch_1", n_train), ("train_data_batch_2", n_train), ("val_data", n_test)):
        entry = {"data": rng.integers(0, 256, (n, 3 * resolution * resolution), dtype=np.uint8),
                 "labels": rng.integers(1, 1001, n).tolist(), "mean": np.zeros(3 * resolution * resolution)}
        if npz:
            np.savez(base / f"{name}.npz", **entry)
        else:
            with open(base / name, "wb") as handle:
                pickle.dump(entry, handle)


def _speech(root: Path, n_train: int, n_test: int, rng: np.random.Generator, words: int = 35) -> None:
    base = root / "SpeechCommands" / "speech_commands_v0.02"
    val, test = [], []
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


def _char_trajectories(root: Path, n_train: int, n_test: int, rng: np.random.Generator) -> None:
    base = root / "CharacterTrajectories"
    base.mkdir(parents=True, exist_ok=True)
    labels = [str(i) for i in range(1, 21)]
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        lines = ["@problemName CharacterTrajectories", "@timeStamps false", "@missing false", "@univariate false",
                 "@dimensions 3", "@equalLength false", f"@classLabel true {' '.join(labels)}", "@data"]
        for i in range(n):
            length = int(rng.integers(60, 183))
            dims = [",".join(f"{v:.4f}" for v in rng.standard_normal(length)) for _ in range(3)]
            lines.append(":".join(dims) + f":{labels[i % 20]}")
        (base / f"CharacterTrajectories_{split}.ts").write_text("\n".join(lines) + "\n")


def make_fake_tree(name: str, root: str | Path, n_train: int = 20, n_test: int = 10, seed: int = 0, npz: bool = True) -> Path:
    """Write a tiny copy of dataset ``name`` (or of the dataset it is built on) under ``root``; returns ``root``.

    n_train, n_test: examples per file (CIFAR-10 has 5 training batches, ImageNet 2; Speech Commands
    always gets 4 clips per word: 3 of 16,000 samples, one per split, and a shorter training clip). npz: ImageNet batches as npz (else pickles).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    source = {"smnist": "mnist", "pmnist": "mnist", "sfashion_mnist": "fashion_mnist", "pfashion_mnist": "fashion_mnist",
              "scifar10": "cifar10", "npcifar10": "cifar10", "speech_commands_raw": "speech",
              "speech_commands_mfcc": "speech", "speech_commands35_raw": "speech",
              "speech_commands35_mfcc": "speech"}.get(name, name)
    if source == "mnist":
        _mnist_like(root / "MNIST" / "raw", n_train, n_test, rng)
    elif source == "fashion_mnist":
        _mnist_like(root / "FashionMNIST" / "raw", n_train, n_test, rng)
    elif source in ("cifar10", "cifar100"):
        _cifar(root, 10 if source == "cifar10" else 100, n_train, n_test, rng)
    elif source == "stl10":
        _stl10(root, n_train, n_test, rng)
    elif source.startswith("imagenet"):
        _imagenet(root, int(source[len("imagenet"):]), n_train, n_test, rng, npz)
    elif source == "speech":
        _speech(root, n_train, n_test, rng)
    elif source == "char_trajectories":
        _char_trajectories(root, n_train, n_test, rng)
    else:
        raise ValueError(f"{name} needs no files (generated or shipped in a package)")
    return root
