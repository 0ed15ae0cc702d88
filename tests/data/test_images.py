"""Image datasets: real on-disk formats, normalisation, resizing, augmentation and the Debian Fashion-MNIST."""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flexconv.data import DatasetNotFoundError, FlexDataModule, LoadOptions, build_dataset, get_record
from flexconv.data.fake import make_fake_tree, write_imagenet
from flexconv.data.images import FASHION_SYSTEM_DIR, ImageDataset

STATS = {name: get_record(name).stats for name in ("cifar10", "fashion_mnist")}


def image_dataset(
    name: str, root: str, train: bool, resolution: Optional[tuple[int, int]] = None, **options: Any
) -> ImageDataset:
    """The training or test images of ``name`` through its record's loader."""
    record = get_record(name).with_resolution(resolution)
    return record.load("train" if train else "test", LoadOptions(root=root, **options))


def stack(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(xs), torch.stack(ys)


def test_cifar10_pickles_are_decoded_and_normalised(tmp_path: Path) -> None:
    make_fake_tree("cifar10", tmp_path, n_train=4, n_test=3)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb") as handle:
        raw = pickle.load(handle, encoding="latin1")
    x, y = stack(image_dataset("cifar10", str(tmp_path), train=False))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in STATS["cifar10"])
    expected = torch.from_numpy(raw["data"]).view(-1, 3, 32, 32).float() / 255
    torch.testing.assert_close(x, (expected - mean) / std)
    assert y.tolist() == raw["labels"] and y.dtype == torch.long
    assert len(image_dataset("cifar10", str(tmp_path), train=True)) == 5 * 4  # data_batch_1..5


def test_cifar100_uses_fine_labels_next_to_cifar10(tmp_path: Path) -> None:
    make_fake_tree("cifar10", tmp_path, seed=1)
    make_fake_tree("cifar100", tmp_path, n_test=50, seed=2)
    with open(tmp_path / "cifar-100-python" / "test", "rb") as handle:
        raw = pickle.load(handle, encoding="latin1")
    _, y = stack(image_dataset("cifar100", str(tmp_path), train=False))
    assert y.tolist() == raw["fine_labels"] and int(y.max()) > 20


def test_stl10_column_major_binaries(tmp_path: Path) -> None:
    base = tmp_path / "stl10_binary"
    base.mkdir()
    image = np.zeros((3, 96, 96), dtype=np.uint8)  # as stored: (C, W, H), column-major per image
    image[0, 5, 2] = 255  # red pixel at column 5, row 2
    image.tofile(base / "test_X.bin")
    np.array([10], dtype=np.uint8).tofile(base / "test_y.bin")
    x, y = image_dataset("stl10", str(tmp_path), train=False)[0]
    assert x.shape == (3, 96, 96) and int(y) == 9
    assert torch.nonzero(x[0] == x[0].max()).tolist() == [[2, 5]]


@pytest.mark.parametrize("npz", [True, False])
def test_downsampled_imagenet_batches(tmp_path: Path, npz: bool) -> None:
    write_imagenet(get_record("imagenet16"), tmp_path, 5, 4, np.random.default_rng(0), npz=npz)
    name = "val_data.npz" if npz else "val_data"
    if npz:
        labels = np.load(tmp_path / "imagenet16" / name)["labels"]
    else:
        with open(tmp_path / "imagenet16" / name, "rb") as handle:
            labels = np.asarray(pickle.load(handle)["labels"])
    x, y = stack(image_dataset("imagenet16", str(tmp_path), train=False))
    assert x.shape == (4, 3, 16, 16) and y.tolist() == (labels - 1).tolist()
    assert len(image_dataset("imagenet16", str(tmp_path), train=True)) == 10  # 2 batches of 5


def test_downsampled_imagenet_in_unzipped_subfolders(tmp_path: Path) -> None:
    make_fake_tree("imagenet32", tmp_path, n_train=3, n_test=2)
    folder = tmp_path / "imagenet32"
    (folder / "Imagenet32_val_npz").mkdir()
    shutil.move(folder / "val_data.npz", folder / "Imagenet32_val_npz" / "val_data.npz")
    assert len(image_dataset("imagenet32", str(tmp_path), train=False)) == 2


def test_idx_files_plain_or_gzipped(tmp_path: Path) -> None:
    make_fake_tree("mnist", tmp_path, n_train=6, n_test=4)
    raw = tmp_path / "MNIST" / "raw"
    for path in raw.glob("*.gz"):  # the torchvision layout has both; keep the uncompressed ones only
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    x, y = stack(image_dataset("mnist", str(tmp_path), train=True))
    assert x.shape == (6, 1, 28, 28) and y.dtype == torch.long and int(y.max()) < 10


def test_resize_is_antialiased_bilinear(tmp_path: Path) -> None:
    make_fake_tree("fashion_mnist", tmp_path, n_train=8, n_test=4)
    full, _ = stack(image_dataset("fashion_mnist", str(tmp_path), train=False))
    small, _ = stack(image_dataset("fashion_mnist", str(tmp_path), train=False, resolution=(14, 14)))
    assert small.shape == (4, 1, 14, 14)
    mean, std = STATS["fashion_mnist"]
    expected = F.interpolate(
        full * std[0] + mean[0], size=(14, 14), mode="bilinear", antialias=True, align_corners=False
    )
    torch.testing.assert_close(small, (expected - mean[0]) / std[0], atol=1e-5, rtol=1e-5)
    dm = FlexDataModule("fashion_mnist", root=str(tmp_path), resolution=(14, 14), batch_size=4)
    dm.setup()
    assert dm.record.resolution == (14, 14) and next(iter(dm.train_dataloader()))[0].shape[-2:] == (14, 14)


@pytest.mark.parametrize(
    "name, resolution, augment",
    [("fashion_mnist", (14, 14), "none"), ("fashion_mnist", None, "none"), ("cifar10", (24, 24), "resnet")],
)
def test_a_batch_fetched_at_once_equals_its_items_fetched_one_by_one(
    tmp_path: Path, name: str, resolution: Optional[tuple[int, int]], augment: str
) -> None:
    make_fake_tree(name, tmp_path, n_train=12, n_test=4)
    dataset = image_dataset(name, str(tmp_path), train=True, resolution=resolution, augment=augment)
    indices = [7, 0, 3, 3, 11]
    torch.manual_seed(0)
    one_by_one = [dataset[i] for i in indices]
    torch.manual_seed(0)
    at_once = dataset.__getitems__(indices)  # what DataLoader and Subset call
    assert len(at_once) == len(indices)
    for (x, y), (x_batch, y_batch) in zip(one_by_one, at_once):
        assert torch.equal(x, x_batch) and torch.equal(y, y_batch)
    if augment == "resnet":
        assert not torch.equal(at_once[2][0], at_once[3][0])  # the same image augmented twice: two draws


def test_resnet_augmentation_only_on_training_images(tmp_path: Path) -> None:
    make_fake_tree("cifar10", tmp_path, n_train=4, n_test=4)
    torch.manual_seed(0)
    plain = build_dataset("cifar10", "train", root=str(tmp_path), val_fraction=0.0)
    augmented = build_dataset("cifar10", "train", root=str(tmp_path), val_fraction=0.0, augment="resnet")
    x_plain, _ = stack(plain)
    x_aug, _ = stack(augmented)
    assert x_aug.shape == x_plain.shape and not torch.equal(x_aug, x_plain)
    # Padding is black before normalisation: padded pixels become -mean/std.
    black = -torch.tensor(STATS["cifar10"][0]) / torch.tensor(STATS["cifar10"][1])
    assert any(torch.allclose(x[:, 0, 0], black) or torch.allclose(x[:, -1, -1], black) for x in x_aug)
    dm = FlexDataModule("cifar10", root=str(tmp_path), augment="resnet", val_fraction=0.25)
    dm.setup()
    train_images = image_dataset("cifar10", str(tmp_path), train=True)
    test_images = image_dataset("cifar10", str(tmp_path), train=False)
    assert all(torch.equal(dm.val_set[i][0], train_images[j][0]) for i, j in enumerate(dm.val_set.indices))
    assert torch.equal(dm.test_set[0][0], test_images[0][0])
    with pytest.raises(ValueError, match="augment"):
        FlexDataModule("cifar10", augment="autoaugment")


def test_fashion_from_torchvision_layout_or_system_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_fake_tree("fashion_mnist", tmp_path / "tv", n_train=6, n_test=4)
    assert len(image_dataset("fashion_mnist", str(tmp_path / "tv"), train=False)) == 4
    monkeypatch.setattr("flexconv.data.images.FASHION_SYSTEM_DIR", tmp_path / "tv" / "FashionMNIST" / "raw")
    assert len(image_dataset("fashion_mnist", str(tmp_path / "empty"), train=True)) == 6


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("root", ["elsewhere", str(FASHION_SYSTEM_DIR)])
def test_real_fashion_mnist_files(tmp_path: Path, root: str) -> None:
    root = str(tmp_path / root) if root == "elsewhere" else root
    test = image_dataset("fashion_mnist", root, train=False)
    x, y = stack(torch.utils.data.Subset(test, range(0, 10000, 10)))
    assert len(test) == 10000 and x.shape == (1000, 1, 28, 28)
    assert sorted(set(y.tolist())) == list(range(10))
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1) < 0.1  # the dataset's own statistics


def test_failed_download_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(root: str, train: bool, download: bool) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr("torchvision.datasets.CIFAR10", offline)
    with pytest.raises(DatasetNotFoundError, match=r"download failed \(network unreachable\).*To fix: .*CIFAR10\("):
        image_dataset("cifar10", str(tmp_path), train=True, download=True)
