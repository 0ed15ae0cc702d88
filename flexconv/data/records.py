"""One record per dataset: every fact about it, its loader and its fake-data writer.

A :class:`DatasetRecord` holds what models, losses and metrics read (task, channels, classes,
resolution or length), how its files are fetched (the hint quoted when they are missing), its
normalisation statistics, the function that builds a split (its *loader*) and the function that
writes a tiny fake copy of its files for the tests (its *fake writer*). Nothing else in the code
base dispatches on dataset names.

This module is a leaf: it imports no other flexconv module, neither torch nor aeon, and scans no
folder. The built-in records name their loaders and writers as ``"module:function"`` strings,
imported on first use (:func:`resolve`); a record made elsewhere may hold the functions
themselves. aeon's bundled UEA/UCR sets are found (by :func:`flexconv.data.uea.bundled_uea_records`)
on the first look-up that needs them.

A loader is called as ``loader(record, split, options)`` with ``split`` "train" (all the training
data: the data module carves the validation split from it) or "test", and also "val" when
``record.official_val``; ``options`` is a :class:`LoadOptions`. It returns a torch Dataset of
(x, y) as ``record.task`` describes. A fake writer is called as ``writer(record, root, n_train,
n_test, rng)`` (rng: a numpy Generator) and writes files that the loader reads from ``root``.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:  # annotations only: importing this module imports no torch
    from torch.utils.data import Dataset

TASKS = ("image", "sequence", "regression", "seq2seq")
OBJECTIVES = {
    "image": "classification",
    "sequence": "classification",
    "regression": "regression",
    "seq2seq": "per_step",
}
"""The training objective of each task (:class:`flexconv.train.module.TaskModule`)."""

Reference = Union[str, Callable[..., Any]]
"""A function, or ``"package.module:function"`` naming one (imported on first use)."""


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are not under its root; the message names the dataset, the places
    searched and the command that fetches the files."""


@dataclass(frozen=True)
class LoadOptions:
    """What a loader may use besides its record (the :class:`FlexDataModule` arguments of the same names).

    root: folder holding downloaded datasets.
    augment: "none" or "resnet" (image datasets, training split).
    drop_rate, drop_mode: irregular sampling (records with ``irregular``).
    seed: seed of generated data and of dropped samples.
    download: fetch missing files.
    num_train, num_test: sizes of generated datasets (None: the loader's default).
    """

    root: str = "./data"
    augment: str = "none"
    drop_rate: float = 0.0
    drop_mode: str = "remove"
    seed: int = 0
    download: bool = False
    num_train: Optional[int] = None
    num_test: Optional[int] = None


def resolve(reference: Reference) -> Callable[..., Any]:
    """The function that ``reference`` is or names (``"package.module:function"``)."""
    if callable(reference):
        return reference
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True, kw_only=True)
class DatasetRecord:
    """Facts about one dataset, its loader and its fake-data writer.

    name: the registry key.
    task: "image" (x: (C, H, W), one class), "sequence" (x: (C, L), one class), "regression"
        (x: (C, L), y: (1,) float) or "seq2seq" (x: (C, L), y: (L,) a class per time step).
    in_channels, num_classes: model input channels and outputs (1 for regression).
    data_dim: spatial axes of x (2 for images, 1 for sequences).
    resolution: (H, W) of images; length: L of sequences.
    loader: builds a split (see the module docstring).
    fake: writes a tiny copy of the files (None: generated or shipped data, or built on ``source``).
    source: the dataset whose files this one is built on (e.g. smnist on mnist), or None.
    download_hint: how to get the files, with ``<root>`` standing for the data root (quoted in
        :class:`DatasetNotFoundError`); empty when nothing is fetched.
    stats: per-channel (mean, std) of the training images in [0, 1] (image datasets).
    irregular: supports ``drop_rate`` (irregularly sampled variants, CKConv/FlexConv Table 3).
    any_length: generated at any ``length`` (the synthetic tasks).
    official_val: the loader returns the dataset's own validation split for "val" (else a seeded
        share of "train" is held out).
    """

    name: str
    task: str
    in_channels: int
    num_classes: int
    data_dim: int
    resolution: Optional[tuple[int, int]] = None
    length: Optional[int] = None
    loader: Reference
    fake: Optional[Reference] = None
    source: Optional[str] = None
    download_hint: str = ""
    stats: Optional[tuple[tuple[float, ...], tuple[float, ...]]] = None
    irregular: bool = False
    any_length: bool = False
    official_val: bool = False

    @property
    def needs_download(self) -> bool:
        """The files must be fetched (they are not generated or shipped in a package)."""
        return bool(self.download_hint)

    @property
    def objective(self) -> str:
        """The training objective of the task: "classification", "regression" or "per_step"."""
        return OBJECTIVES[self.task]

    def load(self, split: str, options: LoadOptions = LoadOptions()) -> Dataset:
        """Split ``split`` of this dataset as a torch Dataset (see the module docstring)."""
        return resolve(self.loader)(self, split, options)

    def with_resolution(self, resolution: Optional[tuple[int, int]]) -> DatasetRecord:
        """The record of the dataset resized to ``resolution`` (None: unchanged)."""
        return (
            self
            if resolution is None
            else dataclasses.replace(self, resolution=(int(resolution[0]), int(resolution[1])))
        )

    def with_length(self, length: Optional[int]) -> DatasetRecord:
        """The record of a generated dataset of sequence length ``length`` (None: unchanged)."""
        return self if length is None else dataclasses.replace(self, length=int(length))

    def hint(self, root: str) -> str:
        """The download hint with ``<root>`` filled in."""
        return self.download_hint.replace("<root>", root)


class DatasetRegistry(Mapping[str, DatasetRecord]):
    """Name -> record: the records added with :meth:`add`, and those that ``finders``
    (references to functions returning records) find, called on the first look-up that needs
    them (a listing, or a name not added), so that building the registry scans no folder."""

    def __init__(self, finders: tuple[Reference, ...] = ()) -> None:
        self._records: dict[str, DatasetRecord] = {}
        self._finders = list(finders)

    def add(self, record: DatasetRecord) -> DatasetRecord:
        """Register ``record``; its name must be new (a found record of the same name is then left out). Returns it."""
        if record.task not in TASKS:
            raise ValueError(f"{record.name}: task must be one of {TASKS}, got {record.task!r}")
        if record.name in self._records:
            raise ValueError(f"dataset {record.name!r} is registered already")
        self._records[record.name] = record
        return record

    def _found(self) -> dict[str, DatasetRecord]:
        while self._finders:
            for record in resolve(self._finders.pop(0))():
                self._records.setdefault(record.name, record)
        return self._records

    def __getitem__(self, name: str) -> DatasetRecord:
        return self._records[name] if name in self._records else self._found()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._found())

    def __len__(self) -> int:
        return len(self._found())


DATASETS = DatasetRegistry(finders=("flexconv.data.uea:bundled_uea_records",))
"""Every dataset: the records below, aeon's bundled UEA/UCR sets, and those of :func:`register_dataset`."""


def register_dataset(record: DatasetRecord) -> DatasetRecord:
    """Add ``record`` to :data:`DATASETS` (its name must be new), so that the data module and
    ``flexconv train data=<name>`` know it. Returns it."""
    return DATASETS.add(record)


def get_record(name: str) -> DatasetRecord:
    """The record of dataset ``name``; unknown names raise KeyError listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


# -- the built-in datasets ------------------------------------------------------------------------
def _torchvision(cls: str, extra: str = "") -> str:
    return (
        f"python -c \"import torchvision; torchvision.datasets.{cls}('<root>'{extra}, download=True)\"  "
        "(or pass download=True)"
    )


_IMAGENET_HINT = (
    "log in at https://image-net.org/download-images.php, download 'Downsampled ImageNet {res}x{res}' "
    "(Imagenet{res}_train_npz.zip and Imagenet{res}_val_npz.zip, or the pickle versions; Chrabaszcz et al. 2017) "
    "and unzip both into <root>/imagenet{res}/ (train_data_batch_1..10[.npz] and val_data[.npz])"
)
_SPEECH_HINT = (
    "mkdir -p <root>/SpeechCommands/speech_commands_v0.02 && curl -L "
    "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz | tar xz -C "
    "<root>/SpeechCommands/speech_commands_v0.02"
)
_CHARTRAJ_HINT = (
    "python -c \"from aeon.datasets import load_classification; load_classification('CharacterTrajectories', "
    "extract_path='<root>')\"  (or download "
    "https://timeseriesclassification.com/aeon-toolkit/CharacterTrajectories.zip and unzip "
    "CharacterTrajectories_TRAIN.ts / _TEST.ts into <root>/CharacterTrajectories/)"
)
_FASHION_HINT = (
    "apt-get install dataset-fashion-mnist  (IDX files in /usr/share/datasets/fashion-mnist), or "
    + _torchvision("FashionMNIST")
)
_IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

_IMAGES, _SEQUENCES, _SPEECH = "flexconv.data.images:", "flexconv.data.sequences:", "flexconv.data.speech:"
_UEA, _SYNTHETIC, _FAKE = "flexconv.data.uea:", "flexconv.data.synthetic:", "flexconv.data.fake:"


def _image(
    name: str,
    channels: int,
    classes: int,
    size: int,
    stats: tuple[tuple[float, ...], tuple[float, ...]],
    hint: str,
    loader: str,
    fake: str,
) -> None:
    register_dataset(
        DatasetRecord(
            name=name,
            task="image",
            in_channels=channels,
            num_classes=classes,
            data_dim=2,
            resolution=(size, size),
            stats=stats,
            download_hint=hint,
            loader=_IMAGES + loader,
            fake=_FAKE + fake,
        )
    )


def _sequence(name: str, channels: int, classes: int, length: int, loader: str, **facts: Any) -> None:
    register_dataset(
        DatasetRecord(
            name=name,
            task="sequence",
            in_channels=channels,
            num_classes=classes,
            data_dim=1,
            length=length,
            loader=loader,
            **facts,
        )
    )


# Per-channel mean and std of the training images in [0, 1] (ImageNet's for the downsampled sets).
_image(
    "cifar10",
    3,
    10,
    32,
    ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    _torchvision("CIFAR10"),
    "load_cifar10",
    "write_cifar",
)
_image(
    "cifar100",
    3,
    100,
    32,
    ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    _torchvision("CIFAR100"),
    "load_cifar100",
    "write_cifar",
)
_image("mnist", 1, 10, 28, ((0.1307,), (0.3081,)), _torchvision("MNIST"), "load_mnist", "write_mnist")
_image("fashion_mnist", 1, 10, 28, ((0.2860,), (0.3530,)), _FASHION_HINT, "load_fashion_mnist", "write_fashion_mnist")
_image(
    "stl10",
    3,
    10,
    96,
    ((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    _torchvision("STL10", ", split='train'"),
    "load_stl10",
    "write_stl10",
)
for _res in (16, 32, 64):
    _image(
        f"imagenet{_res}",
        3,
        1000,
        _res,
        _IMAGENET_STATS,
        _IMAGENET_HINT.format(res=_res),
        "load_imagenet",
        "write_imagenet",
    )

_sequence("smnist", 1, 10, 784, _SEQUENCES + "load_flattened", source="mnist", download_hint=_torchvision("MNIST"))
_sequence("pmnist", 1, 10, 784, _SEQUENCES + "load_permuted", source="mnist", download_hint=_torchvision("MNIST"))
_sequence(
    "sfashion_mnist", 1, 10, 784, _SEQUENCES + "load_flattened", source="fashion_mnist", download_hint=_FASHION_HINT
)
_sequence(
    "pfashion_mnist", 1, 10, 784, _SEQUENCES + "load_permuted", source="fashion_mnist", download_hint=_FASHION_HINT
)
_sequence(
    "scifar10", 3, 10, 1024, _SEQUENCES + "load_flattened", source="cifar10", download_hint=_torchvision("CIFAR10")
)
_sequence(
    "npcifar10", 96, 10, 1000, _SEQUENCES + "load_noise_padded", source="cifar10", download_hint=_torchvision("CIFAR10")
)
# Speech Commands: the paper's 10 words (full-length clips only); the "35" variants use every word.
for _words in (10, 35):
    _prefix = "speech_commands" if _words == 10 else f"speech_commands{_words}"
    _sequence(
        f"{_prefix}_raw",
        1,
        _words,
        16000,
        _SPEECH + "load_raw",
        download_hint=_SPEECH_HINT,
        fake=_FAKE + "write_speech_commands",
        official_val=True,
    )
    _sequence(
        f"{_prefix}_mfcc",
        20,
        _words,
        161,
        _SPEECH + "load_mfcc",
        download_hint=_SPEECH_HINT,
        fake=_FAKE + "write_speech_commands",
        official_val=True,
    )
_sequence(
    "char_trajectories",
    3,
    20,
    182,
    _UEA + "load_char_trajectories",
    download_hint=_CHARTRAJ_HINT,
    fake=_FAKE + "write_char_trajectories",
    irregular=True,
)
_sequence("mnist1d", 1, 10, 40, "flexconv.data.mnist1d:load")
register_dataset(
    DatasetRecord(
        name="copy_memory",
        task="seq2seq",
        in_channels=1,
        num_classes=10,
        data_dim=1,
        length=1020,
        loader=_SYNTHETIC + "load_copy_memory",
        any_length=True,
    )
)
register_dataset(
    DatasetRecord(
        name="adding_problem",
        task="regression",
        in_channels=2,
        num_classes=1,
        data_dim=1,
        length=1000,
        loader=_SYNTHETIC + "load_adding_problem",
        any_length=True,
    )
)
