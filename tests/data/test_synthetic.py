"""Copy memory, adding problem (Bai et al. 2018) and MNIST-1D."""

from __future__ import annotations

import pytest
import torch

from flexconv.data import FlexDataModule
from flexconv.data.mnist1d import mnist1d
from flexconv.data.synthetic import DELIMITER, MEMORY_SYMBOLS, adding_problem, copy_memory


def test_copy_memory_layout() -> None:
    blank = 30
    x, y = copy_memory(8, blank + 20, seed=0)[:]
    assert x.shape == (8, 1, 50) and x.dtype == torch.float32 and y.shape == (8, 50) and y.dtype == torch.long
    symbols = x[:, 0, :MEMORY_SYMBOLS]
    assert bool(((symbols >= 1) & (symbols <= 8)).all())
    assert bool((x[:, 0, MEMORY_SYMBOLS : MEMORY_SYMBOLS + blank - 1] == 0).all())
    assert bool((x[:, 0, MEMORY_SYMBOLS + blank - 1 :] == DELIMITER).all())  # delimiter, then 9s while recalling
    assert bool((y[:, : blank + MEMORY_SYMBOLS] == 0).all()) and torch.equal(y[:, -MEMORY_SYMBOLS:], symbols.long())
    assert torch.equal(x, copy_memory(8, 50, seed=0)[:][0]) and not torch.equal(x, copy_memory(8, 50, seed=1)[:][0])
    with pytest.raises(ValueError):
        copy_memory(2, 20, seed=0)


def test_adding_problem_target() -> None:
    x, y = adding_problem(64, 30, seed=0)[:]
    assert x.shape == (64, 2, 30) and y.shape == (64, 1) and y.dtype == torch.float32
    assert bool((x[:, 1].sum(1) == 2).all())  # two distinct marked steps
    torch.testing.assert_close(y[:, 0], (x[:, 0] * x[:, 1]).sum(1))


def test_synthetic_datamodule_length_and_sizes() -> None:
    dm = FlexDataModule("copy_memory", length=40, num_train=50, num_test=10, val_fraction=0.2, batch_size=5)
    dm.setup()
    assert dm.record.length == 40 and (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (40, 10, 10)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (5, 1, 40) and y.shape == (5, 40)
    train_x = torch.stack([dm.train_set[i][0] for i in range(len(dm.train_set))])
    assert not any(torch.equal(dm.test_set[0][0], t) for t in train_x)


def test_mnist1d_standard_split() -> None:
    train, test = mnist1d(True), mnist1d(False)
    assert len(train) == 4000 and len(test) == 1000
    x, y = test[:]
    assert x.shape == (1000, 1, 40) and x.dtype == torch.float32 and sorted(set(y.tolist())) == list(range(10))
    assert torch.equal(x, mnist1d(False)[:][0])
