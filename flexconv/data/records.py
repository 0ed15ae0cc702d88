"""One record per dataset: the facts that models, losses and metrics read.

Every dataset of the FlexConv paper and the offline ones used for the results page has one
:class:`DatasetRecord` in :data:`DATASETS`; nothing else in the code base hard-codes class
counts, channels or lengths.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are not under its root; the message says how to get them."""


@dataclass(frozen=True)
class DatasetRecord:
    """Facts about one dataset.

    task: "image" (x: (C, H, W)), "sequence" (x: (C, L)), "regression" (sequence in, one value out)
        or "seq2seq" (a class per time step).
    in_channels, num_classes: model input channels and outputs (1 for regression).
    data_dim: spatial axes of x (2 for images, 1 for sequences).
    resolution: (H, W) of images; length: L of sequences.
    needs_download: the files must be fetched (they are not generated or shipped in a package).
    download_hint: how to get the files (quoted in DatasetNotFoundError).
    """

    name: str
    task: str
    in_channels: int
    num_classes: int
    data_dim: int
    resolution: Optional[tuple[int, int]] = None
    length: Optional[int] = None
    needs_download: bool = False
    download_hint: str = ""

    def with_resolution(self, resolution: Optional[tuple[int, int]]) -> "DatasetRecord":
        return self if resolution is None else dataclasses.replace(self, resolution=tuple(resolution))

    def with_length(self, length: Optional[int]) -> "DatasetRecord":
        return self if length is None else dataclasses.replace(self, length=int(length))


def _tv(cls: str) -> str:
    return f"python -c \"import torchvision; torchvision.datasets.{cls}('<root>', download=True)\"  (or pass data.download=true)"


_IMAGENET_HINT = (
    "download the downsampled ImageNet ({res}x{res}, 'Imagenet{res}_train_npz' and 'Imagenet{res}_val_npz') from "
    "https://image-net.org/download-images (Chrabaszcz et al. 2017) and unpack both into <root>/imagenet{res}/"
)
_SPEECH_HINT = (
    "python -c \"import torchaudio; torchaudio.datasets.SPEECHCOMMANDS('<root>', download=True)\"  "
    "(or unpack speech_commands_v0.02.tar.gz into <root>/SpeechCommands/speech_commands_v0.02/)"
)
_CHARTRAJ_HINT = (
    "download CharacterTrajectories from https://timeseriesclassification.com (Multivariate_ts.zip) and put "
    "CharacterTrajectories_TRAIN.ts and CharacterTrajectories_TEST.ts into <root>/CharacterTrajectories/"
)
_FASHION_HINT = (
    "apt-get install dataset-fashion-mnist  (files in /usr/share/datasets/fashion-mnist), or "
    + _tv("FashionMNIST")
)

DATASETS: dict[str, DatasetRecord] = {}


def _add(record: DatasetRecord) -> None:
    DATASETS[record.name] = record


for _name, _cls, _ch, _classes, _res in (
    ("cifar10", "CIFAR10", 3, 10, 32),
    ("cifar100", "CIFAR100", 3, 100, 32),
    ("mnist", "MNIST", 1, 10, 28),
    ("stl10", "STL10", 3, 10, 96),
):
    _add(DatasetRecord(_name, "image", _ch, _classes, 2, resolution=(_res, _res), needs_download=True, download_hint=_tv(_cls)))
_add(DatasetRecord("fashion_mnist", "image", 1, 10, 2, resolution=(28, 28), needs_download=True, download_hint=_FASHION_HINT))
for _res in (16, 32, 64):
    _add(DatasetRecord(f"imagenet{_res}", "image", 3, 1000, 2, resolution=(_res, _res), needs_download=True,
                       download_hint=_IMAGENET_HINT.format(res=_res)))
_add(DatasetRecord("smnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_tv("MNIST")))
_add(DatasetRecord("pmnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_tv("MNIST")))
_add(DatasetRecord("sfashion_mnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_FASHION_HINT))
_add(DatasetRecord("pfashion_mnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_FASHION_HINT))
_add(DatasetRecord("scifar10", "sequence", 3, 10, 1, length=1024, needs_download=True, download_hint=_tv("CIFAR10")))
_add(DatasetRecord("npcifar10", "sequence", 96, 10, 1, length=1000, needs_download=True, download_hint=_tv("CIFAR10")))
_add(DatasetRecord("speech_commands_raw", "sequence", 1, 35, 1, length=16000, needs_download=True, download_hint=_SPEECH_HINT))
_add(DatasetRecord("speech_commands_mfcc", "sequence", 20, 35, 1, length=161, needs_download=True, download_hint=_SPEECH_HINT))
_add(DatasetRecord("char_trajectories", "sequence", 3, 20, 1, length=182, needs_download=True, download_hint=_CHARTRAJ_HINT))
_add(DatasetRecord("copy_memory", "seq2seq", 1, 10, 1, length=1020))
_add(DatasetRecord("adding_problem", "regression", 2, 1, 1, length=1000))
_add(DatasetRecord("mnist1d", "sequence", 1, 10, 1, length=40))


def _register_uea() -> None:
    """The UEA/UCR classification sets shipped inside the aeon package (offline)."""
    from flexconv.data.uea import bundled_uea_records

    for record in bundled_uea_records():
        _add(record)


_register_uea()


def get_record(name: str) -> DatasetRecord:
    """The record of dataset ``name``; unknown names list the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None
