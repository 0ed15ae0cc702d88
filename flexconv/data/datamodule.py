"""Splits of every dataset in :data:`flexconv.data.records.DATASETS`, and their Lightning data module.

Each split comes from the dataset record's loader (``record.load``); this module only applies the
options, carves the validation split and wraps the splits in DataLoaders.

:func:`build_dataset` returns the "train", "val" or "test" split of one dataset as a torch
Dataset of (x, y): x (C, H, W) for images, (C, L) for sequences; y an int64 class, a (1,) float
target (adding problem) or (L,) int64 classes per step (copy memory).

The validation split is carved from the training data with a permutation seeded by ``seed``
(``val_fraction`` of it, default :data:`DEFAULT_VAL_FRACTION`; 0 = no validation), except for
datasets with an official validation split (``record.official_val``: Speech Commands). Validation
images are never augmented. :class:`FlexDataModule` wraps the three splits in DataLoaders with seeded shuffling.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sized
from typing import Any, Optional, cast

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Subset

from flexconv.data import series
from flexconv.data.images import AUGMENTATIONS, ImageDataset
from flexconv.data.records import DATASETS, DatasetRecord, LoadOptions, get_record
from flexconv.data.uea import DROP_MODES

log = logging.getLogger(__name__)

DEFAULT_VAL_FRACTION = 0.1
"""Share of the training data held out for validation unless told otherwise."""

SPLITS = ("train", "val", "test")
SERIES = "series"
"""The user's own time series (``path`` / ``test_path``; :mod:`flexconv.data.series`): not in DATASETS, its facts
come from the files."""
DATASET_OPTIONS = ("num_train", "num_test", "path", "test_path")
"""Extra options of :func:`build_dataset`: sizes of the generated (synthetic) training / test sets; files of
``series``."""


def dataset_record(name: str, path: Optional[str] = None, test_path: Optional[str] = None) -> DatasetRecord:
    """The record of ``name``; for ``series``, read from the user's files (``path`` is required there only)."""
    if name == SERIES:
        if path is None:
            raise ValueError("data=series needs data.path=<your .npz, .ts or .csv file>")
        return series.series_record(str(path), None if test_path is None else str(test_path))
    if path is not None or test_path is not None:
        raise ValueError(f"data.path and data.test_path apply to data=series, not to {name}")
    return get_record(name)


def split_indices(size: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, val) indices of ``size`` examples: a permutation seeded by ``seed``, the first
    ``round(val_fraction * size)`` for validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = int(round(val_fraction * size))
    return order[n_val:], order[:n_val]


def _prepared_record(
    name: str,
    augment: str,
    resolution: Optional[tuple[int, int]],
    drop_rate: float,
    drop_mode: str,
    length: Optional[int],
    options: dict[str, Any],
) -> DatasetRecord:
    """The record of ``name`` with the options applied (resolution, length, the observed-mask channel);
    options the dataset does not have are rejected with the reason."""
    record = dataset_record(name, options.get("path"), options.get("test_path"))
    unknown = sorted(set(options) - set(DATASET_OPTIONS))
    if unknown:
        raise TypeError(f"unknown dataset options {unknown}; known: {list(DATASET_OPTIONS)}")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
    if resolution is not None and record.task != "image":
        raise ValueError(f"resolution applies to image datasets; {record.name} is a {record.task} dataset")
    if drop_rate and not record.irregular:
        irregular = sorted(n for n, r in DATASETS.items() if r.irregular)
        raise ValueError(f"drop_rate applies to {', '.join(irregular)}; not to {record.name}")
    if drop_mode not in DROP_MODES:
        raise ValueError(f"drop_mode must be one of {DROP_MODES}, got {drop_mode!r}")
    if length is not None and not record.any_length:
        sized = ", ".join(sorted(n for n, r in DATASETS.items() if r.any_length))
        raise ValueError(f"length applies to the synthetic tasks ({sized}), not to {name}")
    record = record.with_resolution(resolution).with_length(length)
    if drop_rate and drop_mode == "mask":
        record = dataclasses.replace(record, in_channels=record.in_channels + 1)
    return record


def _load_options(
    root: str, augment: str, drop_rate: float, drop_mode: str, seed: int, download: bool, options: dict[str, Any]
) -> LoadOptions:
    return LoadOptions(
        root=root,
        augment=augment,
        drop_rate=drop_rate,
        drop_mode=drop_mode,
        seed=seed,
        download=download,
        num_train=options.get("num_train"),
        num_test=options.get("num_test"),
    )


def _fit_splits(record: DatasetRecord, options: LoadOptions, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(train, val) of ``record``: its official splits, or one read of the training data split by
    :func:`split_indices`, validation images sharing memory with training ones but not augmented."""
    if record.official_val:
        return record.load("train", options), record.load("val", dataclasses.replace(options, augment="none"))
    data = record.load("train", options)
    plain = data.without_augmentation() if isinstance(data, ImageDataset) else data
    train_idx, val_idx = split_indices(len(cast(Sized, data)), val_fraction, seed)
    return Subset(data, train_idx), Subset(plain, val_idx)


def build_dataset(
    name: str,
    split: str,
    *,
    root: str = "./data",
    val_fraction: float = DEFAULT_VAL_FRACTION,
    augment: str = "none",
    resolution: Optional[tuple[int, int]] = None,
    drop_rate: float = 0.0,
    drop_mode: str = "remove",
    seed: int = 0,
    download: bool = False,
    length: Optional[int] = None,
    **dataset_options: Any,
) -> Dataset:
    """Split ``split`` ("train", "val" or "test") of dataset ``name``; arguments as in :class:`FlexDataModule`.

    Augmentation applies to the "train" split only.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    record = _prepared_record(name, augment, resolution, drop_rate, drop_mode, length, dataset_options)
    options = _load_options(
        root, augment if split == "train" else "none", drop_rate, drop_mode, seed, download, dataset_options
    )
    if split == "test":
        return record.load("test", options)
    train, val = _fit_splits(record, options, val_fraction, seed)
    return train if split == "train" else val


def _limit(dataset: Dataset, limit: Optional[int], seed: int) -> Dataset:
    """A seeded random subset of ``limit`` examples (all when None or larger)."""
    if limit is None or limit >= len(cast(Sized, dataset)):
        return dataset
    order = torch.randperm(len(cast(Sized, dataset)), generator=torch.Generator().manual_seed(seed))
    return Subset(dataset, order[:limit].tolist())


class FlexDataModule(LightningDataModule):
    """Train / val / test DataLoaders of one dataset.

    Args:
        name: a key of ``DATASETS`` (e.g. "mnist1d", "fashion_mnist", "cifar10", "uea_japanesevowels").
        root: folder holding downloaded datasets.
        batch_size, num_workers: DataLoader settings (persistent workers only when num_workers > 0).
        val_fraction: share of the training data held out for validation (seeded); 0 for none.
        augment: "none" or "resnet" (random crop with 4-pixel padding + horizontal flip; images, training split).
        resolution: (H, W) to resize images to (antialiased bilinear); updates ``record.resolution``.
        drop_rate: share of time steps dropped per series (irregular sampling; char_trajectories, uea_*).
        drop_mode: "remove" (shorter series, zero-padded at the start) or "mask" (zeros + an observed-mask channel,
            ``record.in_channels`` + 1); see :mod:`flexconv.data.uea`.
        seed: seed of the validation split, the limits, the shuffling and the generated data.
        limit_train, limit_test: use a seeded random subset of that many training / test examples.
        download: fetch missing files (needs internet): torchvision for CIFAR, MNIST, Fashion-MNIST and STL-10,
            aeon for CharacterTrajectories; ImageNet and Speech Commands are fetched by hand (see the error message).
        length: sequence length of the synthetic tasks (copy memory: T + 20; adding problem: T); updates
            ``record.length``.
        path, test_path: the user's own series for ``name="series"`` (.npz, .ts or .csv; see
            :mod:`flexconv.data.series`); ``record`` is then read from the files.
        **dataset_options: ``num_train`` / ``num_test``: sizes of the generated synthetic sets.
    """

    def __init__(
        self,
        name: str,
        root: str = "./data",
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = DEFAULT_VAL_FRACTION,
        augment: str = "none",
        resolution: Optional[tuple[int, int]] = None,
        drop_rate: float = 0.0,
        drop_mode: str = "remove",
        seed: int = 0,
        limit_train: Optional[int] = None,
        limit_test: Optional[int] = None,
        download: bool = False,
        length: Optional[int] = None,
        path: Optional[str] = None,
        test_path: Optional[str] = None,
        **dataset_options: Any,
    ) -> None:
        super().__init__()
        for key, file in (("path", path), ("test_path", test_path)):
            if file is not None:
                dataset_options[key] = str(file)
        resolution = (int(resolution[0]), int(resolution[1])) if resolution is not None else None
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.record: DatasetRecord = _prepared_record(
            name, augment, resolution, drop_rate, drop_mode, length, dataset_options
        )
        self.name, self.root, self.batch_size, self.num_workers = name, root, batch_size, num_workers
        self.val_fraction, self.seed, self.limit_train, self.limit_test = val_fraction, seed, limit_train, limit_test
        self.options = _load_options(root, augment, drop_rate, drop_mode, seed, download, dataset_options)
        self.train_set: Optional[Dataset] = None
        self.val_set: Optional[Dataset] = None
        self.test_set: Optional[Dataset] = None

    def setup(self, stage: Optional[str] = None) -> None:
        """Build the splits that ``stage`` needs ("fit"/"validate": train and val; "test"/"predict": test;
        None: all)."""
        if stage in (None, "fit", "validate") and self.train_set is None:
            train, val = _fit_splits(self.record, self.options, self.val_fraction, self.seed)
            self.train_set = _limit(train, self.limit_train, self.seed)
            self.val_set = val if len(cast(Sized, val)) else None
            log.info(
                "%s: %d train / %d val examples", self.name, len(cast(Sized, self.train_set)), len(cast(Sized, val))
            )
        if stage in (None, "test", "predict") and self.test_set is None:
            test = self.record.load("test", dataclasses.replace(self.options, augment="none"))
            self.test_set = _limit(test, self.limit_test, self.seed + 1)
            log.info("%s: %d test examples", self.name, len(cast(Sized, self.test_set)))

    def _loader(self, dataset: Optional[Dataset], shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{self.name}: call setup() first")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled with a generator seeded by ``seed``: the same order in every run."""
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        """The validation loader, or an empty list (Lightning's "no validation") when val_fraction is 0."""
        return self._loader(self.val_set, shuffle=False) if self.val_set is not None else []

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)


def build_datamodule(**kwargs: Any) -> FlexDataModule:
    """:class:`FlexDataModule` from keyword arguments (e.g. a config section); lists become tuples."""
    if isinstance(kwargs.get("resolution"), list):
        kwargs["resolution"] = tuple(kwargs["resolution"])
    return FlexDataModule(**kwargs)
