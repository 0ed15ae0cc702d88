"""Kernel networks: positions (D, *S) -> kernel values (out_channels, *S)."""

from flexconv.nn.kernels.base import KernelNet
from flexconv.nn.kernels.mfn import FourierNet, GaborNet, MAGNet, MultiplicativeFilterNet
from flexconv.nn.kernels.mlp import MLP
from flexconv.nn.kernels.siren import SIREN

KERNEL_NETS: dict[str, type[KernelNet]] = {
    "MAGNet": MAGNet,
    "Gabor": GaborNet,
    "GaborNet": GaborNet,
    "Fourier": FourierNet,
    "FourierNet": FourierNet,
    "SIREN": SIREN,
    "MLP": MLP,
}


def kernel_net_class(name: str) -> type[KernelNet]:
    """Look up a kernel network by name (e.g. "MAGNet"); unknown names list the known ones."""
    try:
        return KERNEL_NETS[name]
    except KeyError:
        raise ValueError(f"unknown kernel type {name!r}; known: {sorted(KERNEL_NETS)}") from None


__all__ = [
    "KernelNet", "MultiplicativeFilterNet", "FourierNet", "GaborNet", "MAGNet", "SIREN", "MLP",
    "KERNEL_NETS", "kernel_net_class",
]
