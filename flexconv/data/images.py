"""Image datasets: CIFAR-10/100, MNIST, Fashion-MNIST, STL-10, downsampled ImageNet-16/32/64.

Images come out as float tensors (C, H, W), normalised with each dataset's channel mean/std.
``resolution`` resizes once, up front, with antialiased bilinear interpolation (the
cross-resolution protocol trains e.g. Fashion-MNIST at 14x14 and tests at 28x28).
``augment="resnet"``: random crop with 4-pixel zero padding and horizontal flip (training only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from flexconv.data import readers
from flexconv.data.records import DatasetNotFoundError, get_record

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "stl10": ((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


class ImageTensorDataset(Dataset):
    """Normalised images (N, C, H, W) and labels; optional per-item augmentation."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, augment: Optional[Callable] = None) -> None:
        self.images, self.labels, self.augment = images, labels, augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index]
        if self.augment is not None:
            image = self.augment(image)
        return image, self.labels[index]


def resnet_augmentation(image: torch.Tensor) -> torch.Tensor:
    """Random crop after 4-pixel zero padding, then a random horizontal flip. (C, H, W) -> (C, H, W)."""
    _, h, w = image.shape
    padded = F.pad(image, (4, 4, 4, 4))
    top, left = (int(v) for v in torch.randint(0, 9, (2,)))
    image = padded[:, top: top + h, left: left + w]
    if torch.rand(()) < 0.5:
        image = image.flip(-1)
    return image


def to_tensor(images: np.ndarray, stats_name: str, resolution: Optional[tuple[int, int]]) -> torch.Tensor:
    """uint8 (N, H, W, C) -> normalised float (N, C, H', W')."""
    x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float().div_(255.0)
    if resolution is not None and tuple(x.shape[-2:]) != tuple(resolution):
        x = F.interpolate(x, size=tuple(resolution), mode="bilinear", antialias=True, align_corners=False)
    mean, std = STATS[stats_name]
    return (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)


def _missing(name: str, searched: list[Path]) -> DatasetNotFoundError:
    hint = get_record(name).download_hint.replace("<root>", str(searched[0].resolve()))
    where = ", ".join(str(p.resolve()) for p in searched)
    return DatasetNotFoundError(f"{name}: dataset files not found (searched {where}). To fix: {hint}")


def _download(name: str, root: Path) -> None:
    """Fetch the files with torchvision (needs internet)."""
    import torchvision.datasets as tvd

    classes = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100, "mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST}
    if name == "stl10":
        tvd.STL10(str(root), split="train", download=True)
        return
    if name not in classes:
        raise _missing(name, [root])
    for train in (True, False):
        classes[name](str(root), train=train, download=True)


def read_images(name: str, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, H, W, C) and labels of dataset ``name`` from its usual places under ``root``."""
    if name in ("mnist", "fashion_mnist"):
        sub = "MNIST" if name == "mnist" else "FashionMNIST"
        folders = [root / sub / "raw", root / name, root]
        if name == "fashion_mnist":
            folders.append(FASHION_SYSTEM_DIR)
        for folder in folders:
            try:
                return readers.read_mnist_like(folder, train)
            except FileNotFoundError:
                continue
        raise _missing(name, folders)
    try:
        if name in ("cifar10", "cifar100"):
            return readers.read_cifar(root, train)
        if name == "stl10":
            return readers.read_stl10(root, train)
        if name.startswith("imagenet"):
            resolution = int(name[len("imagenet"):])
            return readers.read_downsampled_imagenet(root / name, resolution, train)
    except FileNotFoundError:
        raise _missing(name, [root]) from None
    raise KeyError(f"{name} is not an image dataset")


def image_dataset(
    name: str, root: str, train: bool, resolution: Optional[tuple[int, int]], augment: str, download: bool
) -> ImageTensorDataset:
    """The (normalised, optionally resized and augmented) image dataset ``name``."""
    if augment not in ("none", "resnet"):
        raise ValueError(f"augment must be 'none' or 'resnet', got {augment!r}")
    path = Path(root)
    try:
        images, labels = read_images(name, path, train)
    except DatasetNotFoundError:
        if not download:
            raise
        _download(name, path)
        images, labels = read_images(name, path, train)
    stats = "imagenet" if name.startswith("imagenet") else name
    x = to_tensor(images, stats, resolution)
    transform = resnet_augmentation if (train and augment == "resnet") else None
    return ImageTensorDataset(x, torch.from_numpy(labels), transform)
