"""The checks a continuous-kernel layer makes on its input before computing anything: one clear error
naming the problem (dtype, rank, channels, empty axes) instead of torch's errors from deep inside a
convolution or an FFT, and the dtype to compute in under ``torch.autocast``."""

from __future__ import annotations

from typing import Optional

import torch


def check_input(x: torch.Tensor, name: str, data_dim: int, in_channels: int) -> None:
    """Raise TypeError/ValueError unless ``x`` is a floating-point (B, in_channels, *S) with ``data_dim``
    non-empty spatial axes; ``name`` is the layer's class name, for the message."""
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} expects a floating-point input, got dtype {x.dtype}")
    if x.dim() != data_dim + 2:
        raise ValueError(
            f"{name} with data_dim={data_dim} expects input (batch, {in_channels}, "
            f"{', '.join(['length'] if data_dim == 1 else [f'S{d}' for d in range(data_dim)])}), "
            f"got shape {tuple(x.shape)}"
        )
    if x.shape[1] != in_channels:
        raise ValueError(f"{name} expects {in_channels} input channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if any(s < 1 for s in x.shape[2:]):
        raise ValueError(f"{name} got an empty spatial axis: input shape {tuple(x.shape)}")


def compute_dtype(x: torch.Tensor, param_dtype: torch.dtype, name: str) -> Optional[torch.dtype]:
    """The dtype to compute in under ``torch.autocast`` (as ``nn.Conv2d``), else None.

    Outside autocast (or with float64 involved, which autocast never casts) the input must have the
    parameters' dtype: one clear error instead of torch's bias-type or complex-type errors.
    """
    device_type = x.device.type
    if torch.is_autocast_enabled(device_type) and torch.float64 not in (x.dtype, param_dtype):
        return torch.get_autocast_dtype(device_type)
    if x.dtype != param_dtype:
        raise TypeError(
            f"{name} got an input of dtype {x.dtype} but its parameters are {param_dtype}; "
            f"convert one to the other (x.to({param_dtype}) or layer.to({x.dtype})) or run under torch.autocast"
        )
    return None
