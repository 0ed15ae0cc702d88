"""Synthetic long-memory tasks of the CKConv/FlexConv papers (Bai et al. 2018).

* Copy memory, memory length ``T``: input ``[s_1..s_10, 0 x (T-1), 9, 0 x 10]`` (symbols
  s_i ~ U{1..8}), target ``[0 x (T+10), s_1..s_10]``: a class per step, length T + 20,
  one input channel (the symbol value).
* Adding problem, length ``T``: two channels (values ~ U(0, 1), and a marker that is 1 at one
  random step of each half); the target is the sum of the two marked values (regression).
Both are generated from a seed, so every split is reproducible.
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

MEMORY_SYMBOLS = 10


def copy_memory(num_examples: int, memory_length: int, seed: int) -> TensorDataset:
    """x: (N, 1, T+20) float symbols, y: (N, T+20) int classes."""
    g = torch.Generator().manual_seed(seed)
    length = memory_length + 2 * MEMORY_SYMBOLS
    symbols = torch.randint(1, 9, (num_examples, MEMORY_SYMBOLS), generator=g)
    x = torch.zeros(num_examples, length, dtype=torch.long)
    x[:, :MEMORY_SYMBOLS] = symbols
    x[:, memory_length + MEMORY_SYMBOLS - 1] = 9
    y = torch.zeros(num_examples, length, dtype=torch.long)
    y[:, -MEMORY_SYMBOLS:] = symbols
    return TensorDataset(x.float().unsqueeze(1), y)


def adding_problem(num_examples: int, length: int, seed: int) -> TensorDataset:
    """x: (N, 2, T), y: (N, 1) the sum of the two marked values."""
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(num_examples, length, generator=g)
    half = length // 2
    first = torch.randint(0, half, (num_examples,), generator=g)
    second = torch.randint(half, length, (num_examples,), generator=g)
    markers = torch.zeros(num_examples, length)
    rows = torch.arange(num_examples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)
    return TensorDataset(torch.stack([values, markers], dim=1), y)
