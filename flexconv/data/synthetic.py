"""Synthetic long-memory tasks of the CKConv/FlexConv papers, generated as in Bai et al. (2018).

* Copy memory with ``T`` blank steps: input ``[s_1..s_10, 0 x (T-1), 9 x 11]`` (symbols
  s_i ~ U{1..8}; 9 is the delimiter, repeated until the end as in the TCN code), target
  ``[0 x (T+10), s_1..s_10]``: a class in 0..9 per step, length ``T + 20``, one input channel
  (the symbol value as a float). x: (1, T+20), y: (T+20,) int64.
* Adding problem of length ``T``: channel 0 holds values ~ U(0, 1), channel 1 is a marker that
  is 1 at two distinct random steps; the target is the sum of the two marked values
  (regression). x: (2, T), y: (1,) float.

Both are generated from a seed, so every split is reproducible. Sizes default to those of the
CKConv code (copy memory 10,000 / 1,000, adding problem 50,000 / 1,000 train / test).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch.utils.data import TensorDataset

from flexconv.data.records import DatasetRecord, LoadOptions

MEMORY_SYMBOLS = 10
"""Symbols to remember in the copy-memory task."""

DELIMITER = 9
"""Input symbol that asks for the memory to be repeated."""

COPY_MEMORY_SIZES = (10_000, 1_000)
ADDING_PROBLEM_SIZES = (50_000, 1_000)
"""(train, test) examples of each task unless ``num_train`` / ``num_test`` say otherwise."""


def copy_memory_memoryless_loss(length: int) -> float:
    """Copy memory's cross-entropy per step for a model without memory at total ``length``: blanks
    right, then a uniform guess among the 8 symbols at each of the 10 recalled steps."""
    return MEMORY_SYMBOLS * math.log(8) / length


def copy_memory(num_examples: int, length: int, seed: int) -> TensorDataset:
    """``num_examples`` copy-memory sequences of total ``length`` = T + 20: x (N, 1, L) float, y (N, L) int64."""
    blank = length - 2 * MEMORY_SYMBOLS
    if blank < 1:
        raise ValueError(f"copy memory needs length > {2 * MEMORY_SYMBOLS} (T + 20 with T >= 1), got {length}")
    g = torch.Generator().manual_seed(seed)
    symbols = torch.randint(1, 9, (num_examples, MEMORY_SYMBOLS), generator=g)
    x = torch.zeros(num_examples, length, dtype=torch.long)
    x[:, :MEMORY_SYMBOLS] = symbols
    x[:, MEMORY_SYMBOLS + blank - 1 :] = DELIMITER
    y = torch.zeros(num_examples, length, dtype=torch.long)
    y[:, -MEMORY_SYMBOLS:] = symbols
    return TensorDataset(x.float().unsqueeze(1), y)


def adding_problem(num_examples: int, length: int, seed: int) -> TensorDataset:
    """``num_examples`` adding-problem sequences: x (N, 2, T), y (N, 1) the sum of the two marked values."""
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(num_examples, length, generator=g)
    first = torch.randint(0, length, (num_examples,), generator=g)
    second = torch.randint(0, length - 1, (num_examples,), generator=g)
    second = second + (second >= first).long()  # distinct from ``first``, uniform over the others
    rows = torch.arange(num_examples)
    markers = torch.zeros(num_examples, length)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)
    return TensorDataset(torch.stack([values, markers], dim=1), y)


def _size_and_seed(split: str, options: LoadOptions, default: tuple[int, int]) -> tuple[int, int]:
    """(examples, generator seed) of ``split``: seed ``2 * seed`` (train) or ``2 * seed + 1`` (test), so
    no two splits or seeds share data."""
    train = split == "train"
    size: Optional[int] = options.num_train if train else options.num_test
    return (default[0 if train else 1] if size is None else size), 2 * options.seed + (0 if train else 1)


# -- the loaders of the records (flexconv.data.records) ----------------------------------------------
def load_copy_memory(record: DatasetRecord, split: str, options: LoadOptions) -> TensorDataset:
    """Copy-memory sequences of ``record.length`` = T + 20 steps."""
    size, seed = _size_and_seed(split, options, COPY_MEMORY_SIZES)
    assert record.length is not None  # the record of a synthetic task has one
    return copy_memory(size, record.length, seed)


def load_adding_problem(record: DatasetRecord, split: str, options: LoadOptions) -> TensorDataset:
    """Adding-problem sequences of ``record.length`` = T steps."""
    size, seed = _size_and_seed(split, options, ADDING_PROBLEM_SIZES)
    assert record.length is not None  # the record of a synthetic task has one
    return adding_problem(size, record.length, seed)
