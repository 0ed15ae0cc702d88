"""Sequential image datasets: raster order, the fixed permutation, noise-padded CIFAR-10."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from flexconv.data import DatasetNotFoundError, LoadOptions, get_record
from flexconv.data.fake import make_fake_tree
from flexconv.data.sequences import PERMUTATION_SEED, fixed_permutation


def load(name: str, root: str, train: bool) -> Dataset:
    """The training or test split of ``name`` (an image or a sequence dataset) through its record's loader."""
    return get_record(name).load("train" if train else "test", LoadOptions(root=root))


def test_permutation_is_fixed_and_documented() -> None:
    first, second = fixed_permutation(784), fixed_permutation(784)
    assert torch.equal(first, second) and sorted(first.tolist()) == list(range(784))
    assert torch.equal(first, torch.randperm(784, generator=torch.Generator().manual_seed(PERMUTATION_SEED)))
    assert not torch.equal(first, torch.arange(784))


@pytest.mark.parametrize(
    ("sequential", "permuted", "source"),
    [("smnist", "pmnist", "mnist"), ("sfashion_mnist", "pfashion_mnist", "fashion_mnist")],
)
def test_raster_and_permuted_pixels(tmp_path: Path, sequential: str, permuted: str, source: str) -> None:
    make_fake_tree(source, tmp_path, n_train=4, n_test=3)
    image, label = load(source, str(tmp_path), train=False)[1]
    seq, seq_label = load(sequential, str(tmp_path), train=False)[1]
    perm, perm_label = load(permuted, str(tmp_path), train=False)[1]
    assert seq.shape == perm.shape == (1, 784) and label == seq_label == perm_label
    assert torch.equal(seq, image.flatten(1)) and torch.equal(perm, seq[:, fixed_permutation(784)])
    again, _ = load(permuted, str(tmp_path), train=False)[1]
    assert torch.equal(perm, again)


def test_scifar10_keeps_colours_as_channels(tmp_path: Path) -> None:
    make_fake_tree("cifar10", tmp_path, n_train=2, n_test=2)
    image, _ = load("cifar10", str(tmp_path), train=False)[0]
    seq, _ = load("scifar10", str(tmp_path), train=False)[0]
    assert seq.shape == (3, 1024) and torch.equal(seq, image.reshape(3, 1024))


def test_noise_padded_cifar10(tmp_path: Path) -> None:
    make_fake_tree("cifar10", tmp_path, n_train=2, n_test=2)
    image, label = load("cifar10", str(tmp_path), train=False)[0]
    seq, seq_label = load("npcifar10", str(tmp_path), train=False)[0]
    assert seq.shape == (96, 1000) and label == seq_label
    for row in (0, 7, 31):  # step = row; channel = colour * 32 + column
        assert torch.equal(seq[:, row], image[:, row, :].reshape(96))
    noise = seq[:, 32:]
    assert abs(float(noise.mean())) < 0.05 and abs(float(noise.std()) - 1) < 0.05
    assert torch.equal(seq, load("npcifar10", str(tmp_path), train=False)[0][0])  # fixed noise
    other, _ = load("npcifar10", str(tmp_path), train=False)[1]
    assert not torch.equal(other[:, 32:], noise)


def test_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="pmnist is built on mnist.*torchvision.datasets.MNIST"):
        load("pmnist", str(tmp_path), train=True)
