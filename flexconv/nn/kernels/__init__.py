"""Kernel networks: positions (D, *S) -> kernel values (out_channels, *S).

:data:`KERNEL_NETS` is the one table of them by class name; :func:`register_kernel_net` adds one
(see the contract in :mod:`flexconv.nn.kernels.base` and docs/extending.md).
"""

from flexconv.nn.kernels.base import KERNEL_NETS, KernelNet, kernel_net_class, register_kernel_net
from flexconv.nn.kernels.mfn import FourierNet, GaborNet, MAGNet, MultiplicativeFilterNet
from flexconv.nn.kernels.mlp import MLP
from flexconv.nn.kernels.siren import SIREN

__all__ = [
    "KernelNet",
    "MultiplicativeFilterNet",
    "FourierNet",
    "GaborNet",
    "MAGNet",
    "SIREN",
    "MLP",
    "KERNEL_NETS",
    "kernel_net_class",
    "register_kernel_net",
]
