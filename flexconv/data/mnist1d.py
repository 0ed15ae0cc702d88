"""MNIST-1D (Greydanus 2020), generated locally by the ``mnist1d`` package.

``mnist1d.data.make_dataset`` with the package's default arguments builds the standard
4,000/1,000 split of 40-step sequences (never ``get_dataset``, which downloads). x: (1, 40).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.utils.data import TensorDataset

from flexconv.data.records import DatasetRecord, LoadOptions


@lru_cache(maxsize=1)
def _generate() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())
    as_x = lambda a: torch.tensor(a, dtype=torch.float32).unsqueeze(1)  # noqa: E731
    return as_x(data["x"]), torch.tensor(data["y"]).long(), as_x(data["x_test"]), torch.tensor(data["y_test"]).long()


def mnist1d(train: bool) -> TensorDataset:
    """The train (4,000) or test (1,000) split."""
    x, y, x_test, y_test = _generate()
    return TensorDataset(x, y) if train else TensorDataset(x_test, y_test)


def load(record: DatasetRecord, split: str, options: LoadOptions) -> TensorDataset:
    """The loader of the ``mnist1d`` record: :func:`mnist1d` of ``split``."""
    return mnist1d(split == "train")
