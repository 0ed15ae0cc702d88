"""The Lightning data module for every dataset in :data:`flexconv.data.records.DATASETS`.

``FlexDataModule(name, root, batch_size, ...)`` builds the train / val / test splits of one
dataset with its own argument names (the Hydra ``data`` config group is generated from this
signature). The validation split is carved from the training data with a seeded permutation
(``val_fraction``; 0 = no validation), except for Speech Commands, which has official lists.
"""

from __future__ import annotations

import logging
from typing import Optional

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Subset

from flexconv.data import images, mnist1d, sequences, speech, synthetic, uea
from flexconv.data.records import DatasetRecord, get_record

log = logging.getLogger(__name__)

SYNTHETIC_SIZES = {"train": 10000, "val": 1000, "test": 1000}


def build_split(name: str, split: str, *, root: str, augment: str, resolution: Optional[tuple[int, int]],
                drop_rate: float, seed: int, download: bool, length: Optional[int]) -> Dataset:
    """The ``split`` ("train" or "test"; "val" only for datasets with an official one) of ``name``."""
    record = get_record(name)
    train = split == "train"
    if name in ("copy_memory", "adding_problem"):
        size = SYNTHETIC_SIZES[split]
        split_seed = seed * 3 + ("train", "val", "test").index(split)
        if name == "copy_memory":
            return synthetic.copy_memory(size, (length or record.length) - 2 * synthetic.MEMORY_SYMBOLS, split_seed)
        return synthetic.adding_problem(size, length or record.length, split_seed)
    if name == "mnist1d":
        return mnist1d.mnist1d(train)
    if name.startswith("speech_commands"):
        return speech.speech_commands(root, split, "raw" if name.endswith("raw") else "mfcc")
    if name == "char_trajectories":
        return uea.ts_dataset(*uea.char_trajectories_files(root), split, drop_rate, seed, record.length)
    if name.startswith("uea_"):
        return uea.ts_dataset(*uea.uea_files(name[len("uea_"):]), split, drop_rate, seed)
    if name in sequences.SOURCES or name == "npcifar10":
        return sequences.sequence_image_dataset(name, root, train, download, seed)
    if record.task == "image":
        return images.image_dataset(name, root, train, resolution, augment, download)
    raise KeyError(f"no loader for dataset {name!r}")


def _limit(dataset: Dataset, limit: Optional[int], seed: int) -> Dataset:
    """A seeded random subset of ``limit`` examples (all when None)."""
    if limit is None or limit >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return Subset(dataset, order[:limit].tolist())


class FlexDataModule(LightningDataModule):
    """Train / val / test loaders of one dataset.

    Args:
        name: a key of ``DATASETS`` (e.g. "mnist1d", "fashion_mnist", "cifar10", "uea_japanesevowels").
        root: folder holding downloaded datasets.
        batch_size, num_workers: DataLoader settings (persistent workers when > 0).
        val_fraction: share of the training data held out for validation (seeded).
        augment: "none" or "resnet" (random crop + flip; image datasets, training split).
        resolution: (H, W) to resize images to (antialiased bilinear).
        drop_rate: share of time steps removed per series (irregular sampling; UEA sets).
        seed: seed of the validation split, subsets, shuffling and generated data.
        limit_train, limit_test: use a seeded subset of that many training / test examples.
        download: let torchvision download missing files (needs internet).
        length: sequence length of the synthetic tasks (copy memory: T + 20).
    """

    def __init__(
        self,
        name: str,
        root: str = "./data",
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        augment: str = "none",
        resolution: Optional[tuple[int, int]] = None,
        drop_rate: float = 0.0,
        seed: int = 0,
        limit_train: Optional[int] = None,
        limit_test: Optional[int] = None,
        download: bool = False,
        length: Optional[int] = None,
    ) -> None:
        super().__init__()
        record = get_record(name)
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if resolution is not None and record.task != "image":
            raise ValueError(f"resolution applies to image datasets; {name} is a {record.task} dataset")
        self.name, self.root = name, root
        self.batch_size, self.num_workers = batch_size, num_workers
        self.val_fraction, self.augment, self.drop_rate = val_fraction, augment, drop_rate
        self.seed, self.limit_train, self.limit_test, self.download = seed, limit_train, limit_test, download
        self.resolution = tuple(resolution) if resolution is not None else None
        self.length = length
        self.record: DatasetRecord = record.with_resolution(self.resolution).with_length(length)
        self.train_set: Optional[Dataset] = None
        self.val_set: Optional[Dataset] = None
        self.test_set: Optional[Dataset] = None

    def _split(self, split: str, augment: str = "none") -> Dataset:
        return build_split(
            self.name, split, root=self.root, augment=augment, resolution=self.resolution,
            drop_rate=self.drop_rate, seed=self.seed, download=self.download, length=self.length,
        )

    def setup(self, stage: Optional[str] = None) -> None:
        if stage in (None, "fit", "validate") and self.train_set is None:
            self._setup_fit()
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = _limit(self._split("test"), self.limit_test, self.seed + 1)

    def _setup_fit(self) -> None:
        has_official_val = self.name.startswith("speech_commands") or self.name in ("copy_memory", "adding_problem")
        train = self._split("train", self.augment)
        if has_official_val:
            self.train_set, self.val_set = _limit(train, self.limit_train, self.seed), self._split("val")
            return
        n_val = int(round(self.val_fraction * len(train)))
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.seed)).tolist()
        # The validation images get no augmentation: the same examples from an un-augmented copy.
        plain = self._split("train") if self.augment != "none" else train
        self.val_set = Subset(plain, order[:n_val]) if n_val else None
        self.train_set = _limit(Subset(train, order[n_val:]), self.limit_train, self.seed)
        log.info("%s: %d train / %d val examples", self.name, len(self.train_set), n_val)

    def _loader(self, dataset: Optional[Dataset], shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{self.name}: call setup() first (or the split is empty)")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False) if self.val_set is not None else []

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)
