"""Grids of relative positions on which kernel networks are sampled.

A kernel of ``n`` taps along an axis is sampled at ``linspace(-1, 1, n)``; the axes are combined
with an "ij" meshgrid into a tensor ``(D, n_1, ..., n_D)`` whose channel ``d`` holds the
coordinate along axis ``d`` (as in the FlexConv paper's code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch

Horizon = Union[int, str, Sequence[int]]


def relative_positions(
    sizes: Sequence[int], *, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Positions grid (D, *sizes) with values in [-1, 1] along each axis."""
    axes = [torch.linspace(-1.0, 1.0, int(n), device=device, dtype=dtype) for n in sizes]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=0)


def resolve_grid_size(horizon: Horizon, input_shape: Sequence[int], data_dim: int) -> tuple[int, ...]:
    """Number of kernel taps per axis for a layer's ``horizon`` and the input (B, C, *S).

    ``horizon``: an odd int (all axes), a sequence of odd ints (one per axis), ``"same"`` (the
    input's length along the last axis, for every axis, as the original) or ``"full"``
    (2 * that length - 1, so a causal kernel sees the whole sequence).
    """
    if horizon == "same":
        return (int(input_shape[-1]),) * data_dim
    if horizon == "full":
        return (2 * int(input_shape[-1]) - 1,) * data_dim
    return validate_horizon(horizon, data_dim)


def validate_horizon(horizon: Horizon, data_dim: int) -> tuple[int, ...]:
    """Check an explicit horizon (odd positive int or one per axis) and expand it to one per axis."""
    if isinstance(horizon, str):
        if horizon in ("same", "full"):
            return ()
        raise ValueError(f"horizon must be an odd int, 'same' or 'full', got {horizon!r}")
    if isinstance(horizon, int):
        sizes = (horizon,) * data_dim
    elif isinstance(horizon, (tuple, list)):
        sizes = tuple(horizon)
    else:
        raise ValueError(f"horizon must be an odd int, a tuple of odd ints, 'same' or 'full', got {horizon!r}")
    if len(sizes) != data_dim:
        raise ValueError(f"horizon {horizon!r} needs {data_dim} entries (one per spatial axis)")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0 or n % 2 == 0:
            raise ValueError(f"horizon must be a positive odd int (the kernel is centred on 0), got {horizon!r}")
    return sizes
