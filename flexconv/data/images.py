"""Image datasets: CIFAR-10/100, MNIST, Fashion-MNIST, STL-10, downsampled ImageNet-16/32/64.

The images stay uint8 in memory (ImageNet-32 is 3.9 GB that way, four times more as floats);
each item is converted on access to a float tensor (C, H, W) and, in this order:

1. resized to ``resolution`` (if given and different) with antialiased bilinear interpolation
   (``F.interpolate(..., antialias=True)``: a low-pass filter before subsampling, so that the
   cross-resolution protocol, e.g. Fashion-MNIST trained at 14x14 and tested at 28x28, sees no
   aliasing);
2. augmented when ``augment="resnet"`` (training only): torchvision's random crop with 4-pixel
   zero (black) padding and random horizontal flip, the CIFAR ResNet recipe;
3. normalised with the dataset's channel mean/std (:data:`STATS`).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from flexconv.data import readers
from flexconv.data.records import DatasetNotFoundError, get_record

log = logging.getLogger(__name__)

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` puts the four gzipped IDX files."""

AUGMENTATIONS = ("none", "resnet")

STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "stl10": ((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
"""Per-channel mean and std of the training images in [0, 1] (ImageNet's for the downsampled sets)."""


def resnet_augmentation(size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Random crop of ``size`` after 4-pixel zero padding, then a random horizontal flip: (C, H, W) -> (C, H, W)."""
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(size, padding=4), v2.RandomHorizontalFlip()])


@dataclasses.dataclass(eq=False)
class ImageDataset(Dataset):
    """uint8 images (N, C, H, W) and int64 labels (N,); items are (float (C, H', W'), label).

    resolution: (H', W') to resize to, None to keep (H, W).
    augment: a transform of the [0, 1] image before normalisation, or None.
    """

    images: torch.Tensor
    labels: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    resolution: Optional[tuple[int, int]] = None
    augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].float().div_(255.0)
        if self.resolution is not None and tuple(image.shape[-2:]) != self.resolution:
            image = F.interpolate(image[None], size=self.resolution, mode="bilinear", antialias=True, align_corners=False)[0]
        if self.augment is not None:
            image = self.augment(image)
        return (image - self.mean) / self.std, self.labels[index]

    def without_augmentation(self) -> "ImageDataset":
        """The same images (shared memory) without augmentation, e.g. for a validation split."""
        return dataclasses.replace(self, augment=None)


def _missing(name: str, root: Path, searched: list[Path], reason: str = "dataset files not found") -> DatasetNotFoundError:
    where = ", ".join(str(p.resolve()) for p in searched)
    return DatasetNotFoundError(f"{name}: {reason} (searched {where}). To fix: {get_record(name).hint(str(root.resolve()))}")


def _download(name: str, root: Path) -> None:
    """Fetch the files of ``name`` (not ImageNet) with torchvision into its usual layout under ``root`` (needs internet)."""
    import torchvision.datasets as tvd

    log.info("downloading %s into %s with torchvision", name, root)
    if name == "stl10":
        tvd.STL10(str(root), split="train", download=True)
        return
    classes = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100, "mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST}
    for train in (True, False):
        classes[name](str(root), train=train, download=True)


def _search_folders(name: str, root: Path) -> list[Path]:
    """Where the files of ``name`` may be, in order of preference."""
    if name in ("mnist", "fashion_mnist"):
        sub = "MNIST" if name == "mnist" else "FashionMNIST"
        folders = [root / sub / "raw", root / name, root]
        return folders + [FASHION_SYSTEM_DIR] if name == "fashion_mnist" else folders
    if name.startswith("imagenet"):
        return [root / name]
    return [root]


def read_images(name: str, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, H, W, C) and labels (N,) of dataset ``name`` from its usual places under ``root``."""
    for folder in _search_folders(name, root):
        try:
            if name in ("mnist", "fashion_mnist"):
                return readers.read_mnist_like(folder, train)
            if name in ("cifar10", "cifar100"):
                return readers.read_cifar(folder, name, train)
            if name == "stl10":
                return readers.read_stl10(folder, train)
            if name.startswith("imagenet"):
                return readers.read_downsampled_imagenet(folder, int(name[len("imagenet"):]), train)
        except FileNotFoundError:
            continue
        raise KeyError(f"{name} is not an image dataset")
    raise _missing(name, root, _search_folders(name, root))


def image_dataset(
    name: str,
    root: str,
    train: bool,
    resolution: Optional[tuple[int, int]] = None,
    augment: str = "none",
    download: bool = False,
) -> ImageDataset:
    """The training or test images of dataset ``name``: items (float (C, H, W), int64 label).

    Raises DatasetNotFoundError (with the fix) when the files are missing and ``download`` is off
    or cannot fetch them.
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
    path = Path(root)
    try:
        images, labels = read_images(name, path, train)
    except DatasetNotFoundError:
        if not download or name.startswith("imagenet"):  # ImageNet needs a log-in: no automatic download
            raise
        try:
            _download(name, path)
        except (OSError, RuntimeError) as error:  # no network, bad checksum, ...
            raise _missing(name, path, _search_folders(name, path), f"download failed ({error})") from error
        images, labels = read_images(name, path, train)
    mean, std = STATS["imagenet" if name.startswith("imagenet") else name]
    size = tuple(int(s) for s in resolution) if resolution is not None else tuple(images.shape[1:3])
    chw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))  # (N, C, H, W); a copy unless C == 1
    return ImageDataset(
        images=torch.from_numpy(chw if chw.flags.writeable else chw.copy()),
        labels=torch.from_numpy(labels),
        mean=torch.tensor(mean).view(-1, 1, 1),
        std=torch.tensor(std).view(-1, 1, 1),
        resolution=size if resolution is not None else None,
        augment=resnet_augmentation(size) if (train and augment == "resnet") else None,
    )
