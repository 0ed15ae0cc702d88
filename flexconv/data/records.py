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
    """The dataset's files are not under its root; the message names the dataset, the places
    searched and the command that fetches the files."""


@dataclass(frozen=True)
class DatasetRecord:
    """Facts about one dataset.

    name: the registry key.
    task: "image" (x: (C, H, W), one class), "sequence" (x: (C, L), one class), "regression"
        (x: (C, L), y: (1,) float) or "seq2seq" (x: (C, L), y: (L,) a class per time step).
    in_channels, num_classes: model input channels and outputs (1 for regression).
    data_dim: spatial axes of x (2 for images, 1 for sequences).
    resolution: (H, W) of images; length: L of sequences.
    needs_download: the files must be fetched (they are not generated or shipped in a package).
    download_hint: how to get the files, with ``<root>`` standing for the data root (quoted in
        :class:`DatasetNotFoundError`).
    irregular: supports ``drop_rate`` (irregularly sampled variants, CKConv/FlexConv Table 3).
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
    irregular: bool = False

    def with_resolution(self, resolution: Optional[tuple[int, int]]) -> "DatasetRecord":
        """The record of the dataset resized to ``resolution`` (None: unchanged)."""
        return self if resolution is None else dataclasses.replace(self, resolution=(int(resolution[0]), int(resolution[1])))

    def with_length(self, length: Optional[int]) -> "DatasetRecord":
        """The record of a generated dataset of sequence length ``length`` (None: unchanged)."""
        return self if length is None else dataclasses.replace(self, length=int(length))

    def hint(self, root: str) -> str:
        """The download hint with ``<root>`` filled in."""
        return self.download_hint.replace("<root>", root)


def _torchvision(cls: str, extra: str = "") -> str:
    return f"python -c \"import torchvision; torchvision.datasets.{cls}('<root>'{extra}, download=True)\"  (or pass download=True)"


_IMAGENET_HINT = (
    "log in at https://image-net.org/download-images.php, download 'Downsampled ImageNet {res}x{res}' "
    "(Imagenet{res}_train_npz.zip and Imagenet{res}_val_npz.zip, or the pickle versions; Chrabaszcz et al. 2017) "
    "and unzip both into <root>/imagenet{res}/ (train_data_batch_1..10[.npz] and val_data[.npz])"
)
_SPEECH_HINT = (
    "mkdir -p <root>/SpeechCommands/speech_commands_v0.02 && curl -L "
    "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz | tar xz -C <root>/SpeechCommands/speech_commands_v0.02"
)
_CHARTRAJ_HINT = (
    "python -c \"from aeon.datasets import load_classification; load_classification('CharacterTrajectories', "
    "extract_path='<root>')\"  (or download https://timeseriesclassification.com/aeon-toolkit/CharacterTrajectories.zip "
    "and unzip CharacterTrajectories_TRAIN.ts / _TEST.ts into <root>/CharacterTrajectories/)"
)
_FASHION_HINT = (
    "apt-get install dataset-fashion-mnist  (IDX files in /usr/share/datasets/fashion-mnist), or "
    + _torchvision("FashionMNIST")
)

DATASETS: dict[str, DatasetRecord] = {}


def _add(record: DatasetRecord) -> None:
    DATASETS[record.name] = record


for _name, _cls, _extra, _ch, _classes, _res in (
    ("cifar10", "CIFAR10", "", 3, 10, 32),
    ("cifar100", "CIFAR100", "", 3, 100, 32),
    ("mnist", "MNIST", "", 1, 10, 28),
    ("stl10", "STL10", ", split='train'", 3, 10, 96),
):
    _add(DatasetRecord(_name, "image", _ch, _classes, 2, resolution=(_res, _res), needs_download=True,
                       download_hint=_torchvision(_cls, _extra)))
_add(DatasetRecord("fashion_mnist", "image", 1, 10, 2, resolution=(28, 28), needs_download=True, download_hint=_FASHION_HINT))
for _res in (16, 32, 64):
    _add(DatasetRecord(f"imagenet{_res}", "image", 3, 1000, 2, resolution=(_res, _res), needs_download=True,
                       download_hint=_IMAGENET_HINT.format(res=_res)))
_add(DatasetRecord("smnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_torchvision("MNIST")))
_add(DatasetRecord("pmnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_torchvision("MNIST")))
_add(DatasetRecord("sfashion_mnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_FASHION_HINT))
_add(DatasetRecord("pfashion_mnist", "sequence", 1, 10, 1, length=784, needs_download=True, download_hint=_FASHION_HINT))
_add(DatasetRecord("scifar10", "sequence", 3, 10, 1, length=1024, needs_download=True, download_hint=_torchvision("CIFAR10")))
_add(DatasetRecord("npcifar10", "sequence", 96, 10, 1, length=1000, needs_download=True, download_hint=_torchvision("CIFAR10")))
# Speech Commands: the paper's 10 words (full-length clips only); the "35" variants use every word.
_add(DatasetRecord("speech_commands_raw", "sequence", 1, 10, 1, length=16000, needs_download=True, download_hint=_SPEECH_HINT))
_add(DatasetRecord("speech_commands_mfcc", "sequence", 20, 10, 1, length=161, needs_download=True, download_hint=_SPEECH_HINT))
_add(DatasetRecord("speech_commands35_raw", "sequence", 1, 35, 1, length=16000, needs_download=True, download_hint=_SPEECH_HINT))
_add(DatasetRecord("speech_commands35_mfcc", "sequence", 20, 35, 1, length=161, needs_download=True, download_hint=_SPEECH_HINT))
_add(DatasetRecord("char_trajectories", "sequence", 3, 20, 1, length=182, needs_download=True, download_hint=_CHARTRAJ_HINT,
                   irregular=True))
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
    """The record of dataset ``name``; unknown names raise KeyError listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None
