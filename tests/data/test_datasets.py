"""Every dataset loads from files in its real on-disk format (tiny fakes) or from its generator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flexconv.data import DATASETS, DatasetNotFoundError, FlexDataModule, get_record
from flexconv.data.fake import make_fake_tree
from flexconv.data.images import FASHION_SYSTEM_DIR
from flexconv.data.sequences import fixed_permutation

NEEDS_FILES = sorted(n for n, r in DATASETS.items() if r.needs_download)
GENERATED = sorted(n for n, r in DATASETS.items() if not r.needs_download)


def check_batch(dm: FlexDataModule, split: str) -> None:
    record = dm.record
    loader = {"train": dm.train_dataloader, "test": dm.test_dataloader}[split]()
    x, y = next(iter(loader))
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    if record.task == "image":
        assert tuple(x.shape[1:]) == (record.in_channels, *record.resolution)
    else:
        assert tuple(x.shape[1:]) == (record.in_channels, record.length)
    if record.task == "regression":
        assert y.shape == (x.shape[0], 1)
    elif record.task == "seq2seq":
        assert y.shape == (x.shape[0], record.length) and 0 <= int(y.min()) and int(y.max()) < record.num_classes
    else:
        assert y.dtype == torch.long and 0 <= int(y.min()) and int(y.max()) < record.num_classes


@pytest.mark.parametrize("name", NEEDS_FILES)
def test_downloadable_dataset_from_fake_files(name: str, tmp_path: Path) -> None:
    make_fake_tree(name, tmp_path, n_train=20, n_test=10)
    dm = FlexDataModule(name, root=str(tmp_path), batch_size=4, val_fraction=0.2)
    dm.setup()
    check_batch(dm, "train")
    check_batch(dm, "test")


@pytest.mark.parametrize("name", NEEDS_FILES)
def test_missing_root_says_how_to_fix(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flexconv.data.images.FASHION_SYSTEM_DIR", tmp_path / "nowhere")
    dm = FlexDataModule(name, root=str(tmp_path / "empty"))
    with pytest.raises(DatasetNotFoundError) as error:
        dm.setup()
    message = str(error.value)
    assert name in message and "To fix:" in message
    assert str((tmp_path / "empty").resolve()) in message or "CharacterTrajectories" in message


@pytest.mark.parametrize("name", GENERATED)
def test_generated_or_bundled_dataset(name: str) -> None:
    dm = FlexDataModule(name, batch_size=4, limit_train=16, limit_test=8, length=60 if name in ("copy_memory", "adding_problem") else None)
    dm.setup()
    check_batch(dm, "train")
    check_batch(dm, "test")


def test_mnist1d_is_the_standard_split() -> None:
    dm = FlexDataModule("mnist1d", val_fraction=0.0)
    dm.setup()
    assert len(dm.train_set) == 4000 and len(dm.test_set) == 1000


def test_japanese_vowels_offline() -> None:
    dm = FlexDataModule("uea_japanesevowels", val_fraction=0.0)
    dm.setup()
    assert len(dm.train_set) == 270 and len(dm.test_set) == 370
    assert dm.record.in_channels == 12 and dm.record.num_classes == 9 and dm.record.length == 29


def test_drop_rate_removes_samples_and_keeps_length() -> None:
    full = FlexDataModule("uea_japanesevowels", val_fraction=0.0)
    dropped = FlexDataModule("uea_japanesevowels", val_fraction=0.0, drop_rate=0.5)
    full.setup("test"), dropped.setup("test")
    x_full, x_drop = full.test_set[0][0], dropped.test_set[0][0]
    assert x_full.shape == x_drop.shape
    # About half of the time steps are now zero padding at the start.
    assert int((x_drop.abs().sum(0) == 0).sum()) >= x_full.shape[1] // 2 - 1


def test_permutation_is_fixed_and_applied(tmp_path: Path) -> None:
    assert torch.equal(fixed_permutation(784), fixed_permutation(784))
    make_fake_tree("mnist", tmp_path)
    plain = FlexDataModule("smnist", root=str(tmp_path), val_fraction=0.0)
    permuted = FlexDataModule("pmnist", root=str(tmp_path), val_fraction=0.0)
    plain.setup("test"), permuted.setup("test")
    assert torch.equal(plain.test_set[0][0][:, fixed_permutation(784)], permuted.test_set[0][0])


def test_resize_option(tmp_path: Path) -> None:
    make_fake_tree("fashion_mnist", tmp_path)
    dm = FlexDataModule("fashion_mnist", root=str(tmp_path), resolution=(14, 14), batch_size=4)
    dm.setup()
    assert dm.record.resolution == (14, 14)
    assert next(iter(dm.train_dataloader()))[0].shape[-2:] == (14, 14)


def test_normalisation_uses_dataset_statistics(tmp_path: Path) -> None:
    make_fake_tree("cifar10", tmp_path)
    dm = FlexDataModule("cifar10", root=str(tmp_path), val_fraction=0.0)
    dm.setup("test")
    x = torch.stack([dm.test_set[i][0] for i in range(len(dm.test_set))])
    # Uniform noise in [0, 1] normalised by CIFAR statistics: mean (0.5 - 0.48) / 0.25 ~ 0.1.
    assert abs(float(x.mean()) - 0.1) < 0.1


def test_unknown_dataset_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="mnist1d"):
        get_record("not_a_dataset")


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_files(tmp_path: Path) -> None:
    dm = FlexDataModule("fashion_mnist", root=str(tmp_path), val_fraction=0.0, limit_train=64)
    dm.setup()
    assert len(dm.test_set) == 10000
    check_batch(dm, "train")
