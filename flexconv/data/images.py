"""Image datasets: CIFAR-10/100, MNIST, Fashion-MNIST, STL-10, downsampled ImageNet-16/32/64.

The images stay uint8 in memory (ImageNet-32 is 3.9 GB that way, four times more as floats);
each item is converted on access to a float tensor (C, H, W) and, in this order:

1. resized to the record's ``resolution`` (when the files' differs) with antialiased bilinear interpolation
   (``F.interpolate(..., antialias=True)``: a low-pass filter before subsampling, so that the
   cross-resolution protocol, e.g. Fashion-MNIST trained at 14x14 and tested at 28x28, sees no
   aliasing);
2. augmented when ``augment="resnet"`` (training only): torchvision's random crop with 4-pixel
   zero (black) padding and random horizontal flip, the CIFAR ResNet recipe;
3. normalised with the dataset's channel mean/std (``record.stats``).

Each dataset's loader (``load_<name>``, named by its record in :mod:`flexconv.data.records`) says
where its files may be, which reader of :mod:`flexconv.data.readers` decodes them and how they are
downloaded; :func:`image_dataset` does the rest.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from flexconv.data import readers
from flexconv.data.records import DatasetNotFoundError, DatasetRecord, LoadOptions

log = logging.getLogger(__name__)

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` puts the four gzipped IDX files."""

AUGMENTATIONS = ("none", "resnet")

Reader = Callable[[Path, bool], tuple[np.ndarray, np.ndarray]]
"""(folder, train) -> uint8 images (N, H, W, C) and int64 labels (N,); FileNotFoundError when absent
(:mod:`readers`)."""
Fetcher = Callable[[Path], None]
"""Downloads a dataset's files into a root folder."""


def resnet_augmentation(size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Random crop of ``size`` after 4-pixel zero padding, then a random horizontal flip: (C, H, W) -> (C, H, W)."""
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(size, padding=4), v2.RandomHorizontalFlip()])


@dataclasses.dataclass(eq=False)
class ImageDataset(Dataset):
    """uint8 images (N, C, H, W) and int64 labels (N,); items are (float (C, H', W'), label).

    resolution: (H', W') to resize to (no resizing when it is (H, W)).
    augment: a transform of the [0, 1] image before normalisation, or None.
    """

    images: torch.Tensor
    labels: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    resolution: tuple[int, int]
    augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].float().div_(255.0)
        if tuple(image.shape[-2:]) != self.resolution:
            image = F.interpolate(
                image[None], size=self.resolution, mode="bilinear", antialias=True, align_corners=False
            )[0]
        if self.augment is not None:
            image = self.augment(image)
        return (image - self.mean) / self.std, self.labels[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The items at ``indices``, as ``__getitem__`` makes them, with one resize and one normalisation for
        all of them: the DataLoader asks for a batch's items this way, and per item the resize alone cost about
        5 % of a 14x14 FlexNet's training time (augmentations still draw per item, in order)."""
        images = self.images[indices].float().div_(255.0)
        if tuple(images.shape[-2:]) != self.resolution:
            images = F.interpolate(images, size=self.resolution, mode="bilinear", antialias=True, align_corners=False)
        if self.augment is not None:
            images = torch.stack([self.augment(image) for image in images])
        return list(zip((images - self.mean) / self.std, self.labels[indices]))

    def without_augmentation(self) -> ImageDataset:
        """The same images (shared memory) without augmentation, e.g. for a validation split."""
        return dataclasses.replace(self, augment=None)


def _missing(
    record: DatasetRecord, root: Path, searched: list[Path], reason: str = "dataset files not found"
) -> DatasetNotFoundError:
    where = ", ".join(str(p.resolve()) for p in searched)
    return DatasetNotFoundError(
        f"{record.name}: {reason} (searched {where}). To fix: {record.hint(str(root.resolve()))}"
    )


def _read(
    record: DatasetRecord, root: Path, folders: list[Path], read: Reader, train: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The first of ``folders`` that ``read`` finds the files in."""
    for folder in folders:
        try:
            return read(folder, train)
        except FileNotFoundError:
            continue
    raise _missing(record, root, folders)


def _fetch_with_torchvision(cls: str, splits: tuple[dict[str, Any], ...], root: Path) -> None:
    """``torchvision.datasets.<cls>(root, download=True, **split)`` for each split's arguments (needs internet)."""
    import torchvision.datasets

    log.info("downloading %s into %s with torchvision", cls, root)
    for split in splits:
        getattr(torchvision.datasets, cls)(str(root), download=True, **split)


def _torchvision(cls: str, *splits: dict[str, Any]) -> Fetcher:
    return functools.partial(_fetch_with_torchvision, cls, splits or ({"train": True}, {"train": False}))


def image_dataset(
    record: DatasetRecord,
    split: str,
    options: LoadOptions,
    folders: list[Path],
    read: Reader,
    fetch: Optional[Fetcher] = None,
) -> ImageDataset:
    """The "train" or "test" images of ``record`` (resized to ``record.resolution``, normalised with
    ``record.stats``): items (float (C, H, W), int64 label).

    folders: where the files may be, in order of preference; read: the files' reader; fetch: downloads
    them when ``options.download`` (None: no automatic download). Raises DatasetNotFoundError (with
    the fix) when the files are missing and cannot be fetched.
    """
    if options.augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {options.augment!r}")
    root, train = Path(options.root), split == "train"
    try:
        images, labels = _read(record, root, folders, read, train)
    except DatasetNotFoundError:
        if not options.download or fetch is None:
            raise
        try:
            fetch(root)
        except (OSError, RuntimeError) as error:  # no network, bad checksum, ...
            raise _missing(record, root, folders, f"download failed ({error})") from error
        images, labels = _read(record, root, folders, read, train)
    assert record.stats is not None and record.resolution is not None  # image records have both
    mean, std = record.stats
    size = record.resolution
    chw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))  # (N, C, H, W); a copy unless C == 1
    return ImageDataset(
        images=torch.from_numpy(chw if chw.flags.writeable else chw.copy()),
        labels=torch.from_numpy(labels),
        mean=torch.tensor(mean).view(-1, 1, 1),
        std=torch.tensor(std).view(-1, 1, 1),
        resolution=size,
        augment=resnet_augmentation(size) if (train and options.augment == "resnet") else None,
    )


# -- the loaders of the records (flexconv.data.records) ----------------------------------------------
def load_mnist(record: DatasetRecord, split: str, options: LoadOptions) -> ImageDataset:
    """MNIST from ``<root>/MNIST/raw`` (torchvision's layout), ``<root>/mnist`` or ``<root>``."""
    root = Path(options.root)
    return image_dataset(
        record,
        split,
        options,
        [root / "MNIST" / "raw", root / "mnist", root],
        readers.read_mnist_like,
        _torchvision("MNIST"),
    )


def load_fashion_mnist(record: DatasetRecord, split: str, options: LoadOptions) -> ImageDataset:
    """Fashion-MNIST from ``<root>/FashionMNIST/raw``, ``<root>/fashion_mnist``, ``<root>`` or
    :data:`FASHION_SYSTEM_DIR`."""
    root = Path(options.root)
    folders = [root / "FashionMNIST" / "raw", root / "fashion_mnist", root, FASHION_SYSTEM_DIR]
    return image_dataset(record, split, options, folders, readers.read_mnist_like, _torchvision("FashionMNIST"))


def load_cifar10(record: DatasetRecord, split: str, options: LoadOptions) -> ImageDataset:
    """CIFAR-10 from ``<root>/cifar-10-batches-py``."""
    return image_dataset(
        record,
        split,
        options,
        [Path(options.root)],
        functools.partial(readers.read_cifar, classes=10),
        _torchvision("CIFAR10"),
    )


def load_cifar100(record: DatasetRecord, split: str, options: LoadOptions) -> ImageDataset:
    """CIFAR-100 (fine labels) from ``<root>/cifar-100-python``."""
    return image_dataset(
        record,
        split,
        options,
        [Path(options.root)],
        functools.partial(readers.read_cifar, classes=100),
        _torchvision("CIFAR100"),
    )


def load_stl10(record: DatasetRecord, split: str, options: LoadOptions) -> ImageDataset:
    """STL-10's labelled images from ``<root>/stl10_binary`` (the download holds both splits)."""
    return image_dataset(
        record, split, options, [Path(options.root)], readers.read_stl10, _torchvision("STL10", {"split": "train"})
    )


def load_imagenet(record: DatasetRecord, split: str, options: LoadOptions) -> ImageDataset:
    """Downsampled ImageNet from ``<root>/<name>`` (e.g. ``<root>/imagenet32``); fetched by hand (it needs a log-in)."""
    return image_dataset(record, split, options, [Path(options.root) / record.name], readers.read_downsampled_imagenet)
