"""Evaluate a trained continuous-kernel model at another resolution (FlexConv paper, Sec. 5.4, Table 4).

A continuous kernel can be sampled on any grid: going from ``source`` to ``target`` samples per
unit length, a grid of ``n`` taps becomes ``(n - 1) * target / source + 1`` taps over the same
[-1, 1] extent, and the kernel is multiplied by ``(source / target) ** data_dim`` so that the
response to a (re-sampled) signal keeps its scale, as the original cross-resolution code does.
The Gaussian mask lives in the same continuous coordinates, so the learned kernel *size* is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch
from torch import nn

from flexconv.nn.ckconv import CKConv

log = logging.getLogger(__name__)


def resampled_grid_size(size: int, source: int, target: int) -> int:
    """Taps of a grid of ``size`` taps at ``source`` resolution, re-sampled at ``target``."""
    if source <= 0 or target <= 0:
        raise ValueError(f"resolutions must be positive, got source={source}, target={target}")
    scaled = (size - 1) * target
    if scaled % source:
        raise ValueError(
            f"a grid of {size} taps cannot be re-sampled from resolution {source} to {target}: "
            f"(size - 1) * target / source = {scaled / source:g} is not an integer"
        )
    return scaled // source + 1


def change_resolution(model: nn.Module, source: int, target: int) -> nn.Module:
    """Re-sample every CKConv/FlexConv of ``model`` (in place) from ``source`` to ``target`` resolution.

    Example: a FlexNet trained on 16x16 images with horizon 17 evaluated on 32x32 images gets
    33x33 grids and kernels scaled by 1/4. Layers with discrete kernels (e.g. a plain CNN baseline)
    are left as they are: they are simply applied to the new input size. Returns ``model``.
    """
    layers = [m for m in model.modules() if isinstance(m, CKConv)]
    if not layers:
        log.info("change_resolution: no continuous-kernel layers; discrete kernels are applied as they are")
    # grid_sizes() raises for a grid no input has fixed yet (run one forward at the source resolution)
    new_sizes = [tuple(resampled_grid_size(n, source, target) for n in layer.grid_sizes()) for layer in layers]
    for layer, sizes in zip(layers, new_sizes):  # all checked first: the model is never half-converted
        layer.set_grid_size(sizes)
        layer.kernel_scale.mul_((source / target) ** layer.data_dim)
    return model


@torch.no_grad()
def reestimate_batch_norm(model: nn.Module, inputs: Iterable[torch.Tensor]) -> nn.Module:
    """Replace the running statistics of every BatchNorm layer of ``model`` (in place) by their
    average over ``inputs`` (batches the model takes, e.g. training images at a new resolution).

    Kernels re-sampled at another resolution change the statistics of the activations they produce
    (the more so the more of their frequencies the old grid could not represent), while BatchNorm
    keeps normalising with the old ones; re-estimating them needs no labels and no gradient (AdaBN,
    Li et al. 2016). Everything else runs in eval mode (no dropout); the layers keep their momentum.
    Returns ``model``, in eval mode. Raises ValueError when ``inputs`` yields no batch.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    momenta = [m.momentum for m in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches
        norm.train()
    batches = 0
    try:
        for x in inputs:
            model(x)
            batches += 1
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        model.eval()
    if batches == 0:
        raise ValueError("reestimate_batch_norm got no input batch: its BatchNorm statistics are now reset")
    return model
