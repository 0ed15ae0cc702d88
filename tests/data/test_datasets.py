"""Every registered dataset loads, from tiny files in its real on-disk format or from its generator,
with the shapes, dtypes and label ranges its record promises; a missing root says how to fix it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from flexconv.data import DATASETS, DatasetNotFoundError, FlexDataModule
from flexconv.data.fake import make_fake_tree

NEEDS_FILES = sorted(n for n, r in DATASETS.items() if r.needs_download)
GENERATED = sorted(n for n, r in DATASETS.items() if not r.needs_download)
SYNTHETIC_OPTIONS = {"length": 60, "num_train": 40, "num_test": 20}


def check_batch(dm: FlexDataModule, split: str) -> None:
    """One batch of ``split`` matches ``dm.record``."""
    record = dm.record
    loader = {"train": dm.train_dataloader, "val": dm.val_dataloader, "test": dm.test_dataloader}[split]()
    x, y = next(iter(loader))
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    if record.task == "image":
        assert tuple(x.shape[1:]) == (record.in_channels, *record.resolution)
    else:
        assert tuple(x.shape[1:]) == (record.in_channels, record.length)
    if record.task == "regression":
        assert y.dtype == torch.float32 and y.shape == (x.shape[0], 1)
    elif record.task == "seq2seq":
        assert y.dtype == torch.long and y.shape == (x.shape[0], record.length)
        assert 0 <= int(y.min()) and int(y.max()) < record.num_classes
    else:
        assert y.dtype == torch.long and y.shape == (x.shape[0],)
        assert 0 <= int(y.min()) and int(y.max()) < record.num_classes


@pytest.mark.parametrize("name", NEEDS_FILES)
def test_downloadable_dataset_from_fake_files(name: str, tmp_path: Path) -> None:
    make_fake_tree(name, tmp_path, n_train=10, n_test=6)
    dm = FlexDataModule(name, root=str(tmp_path), batch_size=4, val_fraction=0.2)
    dm.setup()
    for split in ("train", "val", "test"):
        check_batch(dm, split)


@pytest.mark.parametrize("name", NEEDS_FILES)
def test_missing_root_names_dataset_root_and_fix(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flexconv.data.images.FASHION_SYSTEM_DIR", tmp_path / "no-system-copy")
    root = tmp_path / "empty"
    dm = FlexDataModule(name, root=str(root))
    with pytest.raises(DatasetNotFoundError) as error:
        dm.setup()
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    assert name in message and str(root.resolve()) in message and "To fix:" in message
    fix = message.split("To fix:", 1)[1]
    assert "<root>" not in fix and str(root.resolve()) in fix
    command = {
        "cifar10": "torchvision.datasets.CIFAR10(",
        "cifar100": "torchvision.datasets.CIFAR100(",
        "mnist": "torchvision.datasets.MNIST(",
        "stl10": "torchvision.datasets.STL10(",
        "fashion_mnist": "apt-get install dataset-fashion-mnist",
        "speech_commands": "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        "char_trajectories": "load_classification('CharacterTrajectories'",
        "imagenet": "https://image-net.org/",
    }
    source = {
        "smnist": "mnist",
        "pmnist": "mnist",
        "scifar10": "cifar10",
        "npcifar10": "cifar10",
        "sfashion_mnist": "fashion_mnist",
        "pfashion_mnist": "fashion_mnist",
    }.get(name, name)
    key = re.sub(r"(\d\d)?(_raw|_mfcc)$|\d\d$", "", source) if source.startswith(("speech", "imagenet")) else source
    assert command[key] in fix


@pytest.mark.parametrize("name", GENERATED)
def test_generated_or_bundled_dataset(name: str) -> None:
    options = SYNTHETIC_OPTIONS if name in ("copy_memory", "adding_problem") else {}
    dm = FlexDataModule(name, batch_size=4, limit_train=16, limit_test=8, **options)
    dm.setup()
    for split in ("train", "val", "test"):
        check_batch(dm, split)


def test_required_keys_are_registered() -> None:
    required = {
        "cifar10",
        "cifar100",
        "mnist",
        "fashion_mnist",
        "stl10",
        "imagenet16",
        "imagenet32",
        "imagenet64",
        "smnist",
        "pmnist",
        "scifar10",
        "npcifar10",
        "speech_commands_raw",
        "speech_commands_mfcc",
        "char_trajectories",
        "copy_memory",
        "adding_problem",
        "mnist1d",
        "sfashion_mnist",
        "pfashion_mnist",
        "uea_japanesevowels",
        "uea_basicmotions",
        "uea_arrowhead",
        "uea_gunpoint",
        "uea_italypowerdemand",
    }
    assert required <= set(DATASETS)
