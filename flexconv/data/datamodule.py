"""Splits of every dataset in :data:`flexconv.data.records.DATASETS`, and their Lightning data module.

:func:`build_dataset` returns the "train", "val" or "test" split of one dataset as a torch
Dataset of (x, y): x (C, H, W) for images, (C, L) for sequences; y an int64 class, a (1,) float
target (adding problem) or (L,) int64 classes per step (copy memory).

The validation split is carved from the training data with a permutation seeded by ``seed``
(``val_fraction`` of it, default :data:`DEFAULT_VAL_FRACTION`; 0 = no validation), except for
Speech Commands, whose official ``validation_list.txt`` is used. Validation images are never
augmented. :class:`FlexDataModule` wraps the three splits in DataLoaders with seeded shuffling.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Subset

from flexconv.data import images, mnist1d, sequences, series, speech, synthetic, uea
from flexconv.data.records import DATASETS, DatasetRecord, get_record

log = logging.getLogger(__name__)

DEFAULT_VAL_FRACTION = 0.1
"""Share of the training data held out for validation unless told otherwise."""

SPLITS = ("train", "val", "test")
SERIES = "series"
"""The user's own time series (``path`` / ``test_path``; :mod:`flexconv.data.series`): not in DATASETS, its facts come from the files."""
DATASET_OPTIONS = ("num_train", "num_test", "path", "test_path")
"""Extra options of :func:`build_dataset`: sizes of the generated (synthetic) training / test sets; files of ``series``."""


def dataset_record(name: str, path: Optional[str] = None, test_path: Optional[str] = None) -> DatasetRecord:
    """The record of ``name``; for ``series``, read from the user's files (``path`` is required there only)."""
    if name == SERIES:
        if path is None:
            raise ValueError("data=series needs data.path=<your .npz, .ts or .csv file>")
        return series.series_record(str(path), None if test_path is None else str(test_path))
    if path is not None or test_path is not None:
        raise ValueError(f"data.path and data.test_path apply to data=series, not to {name}")
    return get_record(name)


def _source(name: str, train: bool, *, root: str, augment: str, resolution: Optional[tuple[int, int]],
            drop_rate: float, drop_mode: str, seed: int, download: bool, length: Optional[int],
            num_train: Optional[int] = None, num_test: Optional[int] = None, path: Optional[str] = None,
            test_path: Optional[str] = None) -> Dataset:
    """The whole training or test data of ``name`` (before any validation split)."""
    if name == SERIES:
        return series.series_dataset(path, test_path, train)
    record = get_record(name)
    if name in ("copy_memory", "adding_problem"):
        return synthetic.synthetic_dataset(name, train, length or record.length, seed, num_train if train else num_test)
    if name == "mnist1d":
        return mnist1d.mnist1d(train)
    if name == "char_trajectories":
        files = uea.char_trajectories_files(root, download)
        return uea.ts_dataset(*files, train, drop_rate, drop_mode, seed, min_length=record.length)
    if name.startswith("uea_"):
        return uea.ts_dataset(*uea.uea_files(name[len("uea_"):]), train, drop_rate, drop_mode, seed)
    if name in sequences.SOURCES or name == "npcifar10":
        return sequences.sequence_image_dataset(name, root, train, download)
    if record.task == "image":
        return images.image_dataset(name, root, train, resolution, augment, download)
    raise KeyError(f"no loader for dataset {name!r}")


def split_indices(size: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, val) indices of ``size`` examples: a permutation seeded by ``seed``, the first ``round(val_fraction * size)`` for validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = int(round(val_fraction * size))
    return order[n_val:], order[:n_val]


def _check(record: DatasetRecord, split: str, augment: str, resolution: Optional[tuple[int, int]],
           drop_rate: float, drop_mode: str, options: dict[str, Any]) -> None:
    """Reject options the dataset does not have, with the reason."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    unknown = sorted(set(options) - set(DATASET_OPTIONS))
    if unknown:
        raise TypeError(f"unknown dataset options {unknown}; known: {list(DATASET_OPTIONS)}")
    if augment not in images.AUGMENTATIONS:
        raise ValueError(f"augment must be one of {images.AUGMENTATIONS}, got {augment!r}")
    if resolution is not None and record.task != "image":
        raise ValueError(f"resolution applies to image datasets; {record.name} is a {record.task} dataset")
    if drop_rate and not record.irregular:
        irregular = sorted(n for n, r in DATASETS.items() if r.irregular)
        raise ValueError(f"drop_rate applies to {', '.join(irregular)}; not to {record.name}")
    if drop_mode not in uea.DROP_MODES:
        raise ValueError(f"drop_mode must be one of {uea.DROP_MODES}, got {drop_mode!r}")


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
    record = dataset_record(name, dataset_options.get("path"), dataset_options.get("test_path"))
    _check(record, split, augment, resolution, drop_rate, drop_mode, dataset_options)
    if name.startswith("speech_commands"):
        return speech.speech_commands(root, split, "raw" if name.endswith("raw") else "mfcc", num_words=record.num_classes)
    common = dict(root=root, resolution=resolution, drop_rate=drop_rate, drop_mode=drop_mode, seed=seed,
                  download=download, length=length, **dataset_options)
    if split == "test":
        return _source(name, False, augment="none", **common)
    data = _source(name, True, augment=augment if split == "train" else "none", **common)
    train_idx, val_idx = split_indices(len(data), val_fraction, seed)
    return Subset(data, train_idx if split == "train" else val_idx)


def _limit(dataset: Dataset, limit: Optional[int], seed: int) -> Dataset:
    """A seeded random subset of ``limit`` examples (all when None or larger)."""
    if limit is None or limit >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
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
        length: sequence length of the synthetic tasks (copy memory: T + 20; adding problem: T); updates ``record.length``.
        path, test_path: the user's own series for ``name="series"`` (.npz, .ts or .csv; see :mod:`flexconv.data.series`);
            ``record`` is then read from the files.
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
        record = dataset_record(name, path, test_path)
        if name == SERIES:
            dataset_options.update(path=str(path), test_path=None if test_path is None else str(test_path))
        resolution = (int(resolution[0]), int(resolution[1])) if resolution is not None else None
        _check(record, "train", augment, resolution, drop_rate, drop_mode, dataset_options)
        if length is not None and name not in ("copy_memory", "adding_problem"):
            raise ValueError(f"length applies to the synthetic tasks (copy_memory, adding_problem), not to {name}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.name, self.root, self.batch_size, self.num_workers = name, root, batch_size, num_workers
        self.val_fraction, self.seed, self.limit_train, self.limit_test = val_fraction, seed, limit_train, limit_test
        self.options = dict(augment=augment, resolution=resolution, drop_rate=drop_rate, drop_mode=drop_mode, seed=seed,
                            download=download, length=length, **dataset_options)
        record = record.with_resolution(resolution).with_length(length)
        if drop_rate and drop_mode == "mask":
            record = dataclasses.replace(record, in_channels=record.in_channels + 1)
        self.record: DatasetRecord = record
        self.train_set: Optional[Dataset] = None
        self.val_set: Optional[Dataset] = None
        self.test_set: Optional[Dataset] = None

    def setup(self, stage: Optional[str] = None) -> None:
        """Build the splits that ``stage`` needs ("fit"/"validate": train and val; "test"/"predict": test; None: all)."""
        if stage in (None, "fit", "validate") and self.train_set is None:
            self._setup_fit()
        if stage in (None, "test", "predict") and self.test_set is None:
            test = build_dataset(self.name, "test", root=self.root, **self.options)
            self.test_set = _limit(test, self.limit_test, self.seed + 1)
            log.info("%s: %d test examples", self.name, len(self.test_set))

    def _setup_fit(self) -> None:
        if self.name.startswith("speech_commands"):
            train = build_dataset(self.name, "train", root=self.root, **self.options)
            val = build_dataset(self.name, "val", root=self.root, **self.options)
        else:
            # One read of the files for both splits; validation images share memory but are not augmented.
            data = _source(self.name, True, root=self.root, **self.options)
            plain = data.without_augmentation() if isinstance(data, images.ImageDataset) else data
            train_idx, val_idx = split_indices(len(data), self.val_fraction, self.seed)
            train, val = Subset(data, train_idx), Subset(plain, val_idx)
        self.train_set = _limit(train, self.limit_train, self.seed)
        self.val_set = val if len(val) else None
        log.info("%s: %d train / %d val examples", self.name, len(self.train_set), len(val))

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
