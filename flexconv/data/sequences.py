"""Sequential versions of image datasets: sMNIST, pMNIST, sFashion, pFashion, sCIFAR-10, noise-padded CIFAR-10.

* sMNIST / sFashion-MNIST: the 784 pixels in raster order, one channel: (1, 784).
* pMNIST / pFashion-MNIST: the same pixels under one fixed random permutation
  (``torch.randperm(784)`` with generator seed :data:`PERMUTATION_SEED`).
* sCIFAR-10: the 1024 pixels in raster order, three channels: (3, 1024).
* noise-padded CIFAR-10 (Chang et al. 2019, used by CKConv/FlexConv): rows as steps, each step
  holding 3 colours x 32 columns = 96 channels (channel = colour * 32 + column); the 32 image
  steps are followed by 968 steps of standard Gaussian noise, 1000 steps in all: (96, 1000). The
  noise is fixed per example (generator seeded with the split and the example's index), so every
  epoch and every run sees the same sequences.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch.utils.data import Dataset

from flexconv.data.images import ImageDataset
from flexconv.data.records import DatasetNotFoundError, DatasetRecord, LoadOptions, get_record

PERMUTATION_SEED = 0
"""Seed of the CPU generator that draws the pMNIST / pFashion-MNIST pixel permutation."""

NOISE_PADDED_LENGTH = 1000
"""Steps of a noise-padded CIFAR-10 sequence (32 image rows + 968 noise steps)."""


def fixed_permutation(length: int) -> torch.Tensor:
    """The pixel permutation of the permuted datasets: ``torch.randperm(length)`` drawn by a CPU generator
    seeded with :data:`PERMUTATION_SEED`, so every call, run and machine gets the same one."""
    return torch.randperm(length, generator=torch.Generator().manual_seed(PERMUTATION_SEED))


class FlattenedImages(Dataset):
    """Images (C, H, W) as sequences (C, H*W), optionally permuted along time."""

    def __init__(self, images: ImageDataset, permutation: Optional[torch.Tensor] = None) -> None:
        self.images, self.permutation = images, permutation

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = self.images[index]
        seq = image.flatten(1)
        if self.permutation is not None:
            seq = seq[:, self.permutation]
        return seq, label


class NoisePaddedRows(Dataset):
    """Rows as steps (3*W channels), padded with per-example Gaussian noise to 1000 steps.

    seed: distinguishes the splits' noise (the same example index gets different noise in train and test).
    """

    def __init__(self, images: ImageDataset, seed: int) -> None:
        self.images, self.seed = images, seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = self.images[index]  # (3, 32, 32)
        c, h, w = image.shape
        rows = image.permute(0, 2, 1).reshape(c * w, h)  # channel = colour * W + column, step = row
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        noise = torch.randn(c * w, NOISE_PADDED_LENGTH - h, generator=generator)
        return torch.cat([rows, noise], dim=1), label


def source_images(record: DatasetRecord, split: str, options: LoadOptions) -> ImageDataset:
    """The images of ``record.source`` (not augmented); a missing source is named in the error."""
    try:
        assert record.source is not None  # the records of image sequences name their source
        images = get_record(record.source).load(split, dataclasses.replace(options, augment="none"))
        assert isinstance(images, ImageDataset)  # the sources are image datasets
        return images
    except DatasetNotFoundError as error:
        raise DatasetNotFoundError(f"{record.name} is built on {error}") from None


# -- the loaders of the records (flexconv.data.records) ----------------------------------------------
def load_flattened(record: DatasetRecord, split: str, options: LoadOptions) -> FlattenedImages:
    """The source's images in raster order: (C, H*W)."""
    return FlattenedImages(source_images(record, split, options))


def load_permuted(record: DatasetRecord, split: str, options: LoadOptions) -> FlattenedImages:
    """The source's images under the fixed permutation :func:`fixed_permutation`: (C, H*W)."""
    images = source_images(record, split, options)
    return FlattenedImages(images, fixed_permutation(images.images.shape[-1] * images.images.shape[-2]))


def load_noise_padded(record: DatasetRecord, split: str, options: LoadOptions) -> NoisePaddedRows:
    """The source's rows as steps, padded with fixed noise: (3*W, 1000)."""
    return NoisePaddedRows(source_images(record, split, options), seed=1 + (split != "train"))
