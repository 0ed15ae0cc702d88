"""flexconv.nn: continuous-kernel convolution layers (depends on torch only).

Layers :class:`CKConv` and :class:`FlexConv` (1D causal, 2D, 3D), kernel networks
(:class:`MAGNet`, :class:`GaborNet`, :class:`FourierNet`, :class:`SIREN`, :class:`MLP`; one table
of them, :data:`KERNEL_NETS`, that :func:`register_kernel_net` extends), the
:class:`GaussianMask`, the functional convolutions, plain padded convolutions
(:class:`PaddedConv`), the anti-aliasing regulariser, resolution change (and BatchNorm re-estimation), export to plain
convolutions, :func:`convert` (FlexConv into any CNN), per-parameter optimiser hints, streaming inference
(:func:`stream`), :class:`Dropout` / :class:`ReLUDropout` with fast CPU masks, and :class:`StaticCrops` (the crop
sizes of compiled training) with :func:`compile_options` (``torch.compile``'s options for FlexConv models).
"""

from flexconv.nn.ckconv import CKConv, FlexConv
from flexconv.nn.convert import continuous_counterpart, convert
from flexconv.nn.dropout import Dropout, ReLUDropout
from flexconv.nn.export import export
from flexconv.nn.hints import named_hints, param_groups, set_hint
from flexconv.nn.kernels import (
    KERNEL_NETS,
    MLP,
    SIREN,
    FourierNet,
    GaborNet,
    KernelNet,
    MAGNet,
    kernel_net_class,
    register_kernel_net,
)
from flexconv.nn.mask import GaussianMask
from flexconv.nn.plain import PaddedConv, nd_class
from flexconv.nn.recording import recording_kernels
from flexconv.nn.resolution import change_resolution, reestimate_batch_norm
from flexconv.nn.static import StaticCrops, compile_options
from flexconv.nn.stream import Stream, register_stream, stream

__all__ = [
    "CKConv",
    "FlexConv",
    "GaussianMask",
    "recording_kernels",
    "KernelNet",
    "MAGNet",
    "GaborNet",
    "FourierNet",
    "SIREN",
    "MLP",
    "KERNEL_NETS",
    "kernel_net_class",
    "register_kernel_net",
    "PaddedConv",
    "nd_class",
    "param_groups",
    "set_hint",
    "named_hints",
    "change_resolution",
    "reestimate_batch_norm",
    "export",
    "stream",
    "Stream",
    "register_stream",
    "Dropout",
    "ReLUDropout",
    "convert",
    "continuous_counterpart",
    "StaticCrops",
    "compile_options",
]
