"""The kernel-network contract (relative positions in, kernel values out) and the table of kernel networks.

A kernel network is the "make the kernel" half of a continuous-kernel convolution (CKConv,
Romero et al. 2022, arXiv 2102.02611): a small network evaluated at every relative position
of the kernel grid. The number of its parameters does not depend on the kernel size.

The contract every kernel network keeps is the docstring of :class:`KernelNet`.
:func:`register_kernel_net` adds a class to :data:`KERNEL_NETS` under its class name, the one
table that ``kernel_net="MAGNet"``, the configs and ``flexconv fit-kernel`` read.
"""

from __future__ import annotations

from typing import Optional, TypeVar

import torch
from torch import nn


class KernelNet(nn.Module):
    """Base class of kernel networks.

    Contract (what layers, configs and regularisers may rely on, and nothing else):

    * ``__init__(data_dim, out_channels, *, <options>, device=None, dtype=None)``: every kernel
      network takes these four arguments, and every option is keyword-only with a default. A layer
      takes a factory (the class, a ``functools.partial`` of it, or its name in :data:`KERNEL_NETS`)
      and calls ``factory(data_dim, out_channels, device=, dtype=)``, nothing else; a config's
      ``kernel_net={name: ..., <option>: ...}`` names the options by their argument names
      (the built-in networks call their width and depth ``hidden_channels`` and ``num_layers``).
    * ``forward(positions)``: positions ``(D, *S)`` in [-1, 1] -> kernel values ``(out_channels, *S)``.
      Networks are pointwise in the positions, so sampling a cropped grid equals cropping the
      kernel sampled on the full grid.
    * ``init_spatial_extent(extent)``: re-draws the position-dependent initial state so that the
      network starts focused in [-extent, extent]^D (FlexConv calls it with 1.667 x the mask's
      initial width). Networks without localised units keep their initialisation.
    * ``frequency_bounds(gauss_stddevs)``: for networks whose frequencies are known analytically
      (FourierNet, GaborNet, MAGNet), a tensor ``(num_filters,)`` of per-filter frequency bounds in
      cycles per unit length, used by the anti-aliasing regulariser; ``None`` otherwise. Masks have
      the same hook (:meth:`flexconv.nn.GaussianMask.frequency_bounds`).

    Helpers for subclasses: :meth:`flatten_positions` ``(D, *S) -> (N, D)`` and
    :meth:`linear_output` (a final ``nn.Linear`` straight into the ``(out_channels, *S)`` layout).
    """

    def __init__(self, data_dim: int, out_channels: int) -> None:
        super().__init__()
        if data_dim < 1:
            raise ValueError(f"data_dim must be >= 1, got {data_dim}")
        if out_channels < 1:
            raise ValueError(f"out_channels must be >= 1, got {out_channels}")
        self.data_dim = data_dim
        self.out_channels = out_channels

    def init_spatial_extent(self, extent: float) -> None:
        """Focus the initial kernel in [-extent, extent]^D (no-op for non-localised networks)."""

    def frequency_bounds(self, gauss_stddevs: float = 2.0) -> Optional[torch.Tensor]:
        """Per-filter frequency bounds (num_filters,), or None when not known analytically."""
        return None

    def flatten_positions(self, positions: torch.Tensor) -> torch.Tensor:
        """(D, *S) -> (N, D) with N = prod(S); checks D."""
        if positions.shape[0] != self.data_dim:
            raise ValueError(
                f"{type(self).__name__} expects positions of shape ({self.data_dim}, *S), got {tuple(positions.shape)}"
            )
        return positions.reshape(self.data_dim, -1).t()

    @staticmethod
    def linear_output(layer: nn.Linear, hidden: torch.Tensor, spatial: torch.Size) -> torch.Tensor:
        """Final linear map computed directly in (out_channels, N) layout -> (out_channels, *S)."""
        weight = layer.weight
        if layer.bias is None:
            out = weight @ hidden.t()
        else:
            out = torch.addmm(layer.bias.unsqueeze(1), weight, hidden.t())
        return out.view(weight.shape[0], *spatial)


KERNEL_NETS: dict[str, type[KernelNet]] = {}
"""Kernel networks by class name: the one table of them."""

K = TypeVar("K", bound=type[KernelNet])


def register_kernel_net(cls: K) -> K:
    """Class decorator: make ``cls`` available by its class name (``kernel_net="MyNet"``, configs).

    Registering another class under a taken name raises ValueError; re-running the same class
    definition (same module and qualified name, e.g. in a notebook) replaces the entry.
    """
    if not (isinstance(cls, type) and issubclass(cls, KernelNet)):
        raise TypeError(f"register_kernel_net takes a KernelNet subclass, got {cls!r}")
    taken = KERNEL_NETS.get(cls.__name__)
    if taken is not None and (taken.__module__, taken.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(
            f"kernel network {cls.__name__!r} is already registered ({taken.__module__}.{taken.__qualname__})"
        )
    KERNEL_NETS[cls.__name__] = cls
    return cls


def kernel_net_class(name: str) -> type[KernelNet]:
    """Look up a kernel network by name (e.g. "MAGNet"); unknown names list the known ones."""
    try:
        return KERNEL_NETS[name]
    except KeyError:
        raise ValueError(f"unknown kernel network {name!r}; known: {sorted(KERNEL_NETS)}") from None
