"""Anti-aliasing regulariser for MAGNet/Gabor/Fourier kernels (FlexConv paper, Sec. 3.3, App. B).

The frequencies of multiplicative-filter kernel networks are known analytically
(the ``frequency_bounds`` hook of kernel networks and masks), so a penalty
can keep them under the Nyquist frequency of the kernel grid. A network trained this way can
be evaluated at a higher resolution than it was trained on (:func:`change_resolution`).

Per layer with F = L+1 filters of frequency bounds ``f_l`` and Nyquist frequency
``nyq = (k - 1) / 2 * 1/2`` for a grid of ``k`` samples over [-1, 1]:

* method ``"together"``: every filter is compared with ``nyq / F``; with target
  ``"gabor+mask"`` the mask's bound is spread evenly over the filters (``+ f_mask / F`` each).
* method ``"summed"``: ``sum_l f_l`` (``+ f_mask`` for ``"gabor+mask"``) is compared with ``nyq``.

The penalty ``fn`` of the excess ``e = f - target`` is summed over filters and layers:
``"l2_relu"``: ``max(0, e)^2``; ``"offset_elu"``: a smooth variant,
``5 * (e - 4 + 1 if e > 4 else exp(e - 4))``. The total is multiplied by ``factor``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from flexconv.nn.ckconv import CKConv

TARGETS = ("gabor", "gabor+mask")
METHODS = ("together", "summed")
PENALTIES = ("l2_relu", "offset_elu")


def nyquist_frequency(grid_size: int) -> float:
    """Nyquist frequency of ``grid_size`` samples over [-1, 1], in cycles per unit length."""
    return (grid_size - 1.0) / 2.0 * 0.5


def frequency_over_nyquist(layer: CKConv, gauss_stddevs: float = 2.0) -> Optional[float]:
    """How far ``layer``'s kernel network is from band-limited on its own grid: the sum of its filters'
    frequency bounds (a product of filters has at most their summed frequency) divided by the Nyquist
    frequency of its largest grid axis. At most 1: the kernel holds no frequency its grid cannot
    represent, so re-sampling it on a finer grid adds nothing the training never saw (the aim of the
    regulariser). None for kernel networks without analytic frequencies (SIREN, MLP)."""
    bounds = layer.kernel_net.frequency_bounds(gauss_stddevs)
    if bounds is None:
        return None
    return float(bounds.detach().sum()) / nyquist_frequency(max(layer.grid_sizes()))


def _penalty(excess: torch.Tensor, fn: str) -> torch.Tensor:
    if fn == "l2_relu":
        return torch.clamp(excess, min=0.0).square().sum()
    offset, scale = 4.0, 5.0
    shifted = excess - offset
    # exp() only of the branch's own range: the unused exp(large) would overflow and turn the
    # gradient of torch.where into inf * 0 = NaN.
    return (scale * torch.where(shifted > 0, shifted + 1.0, torch.exp(shifted.clamp(max=0.0)))).sum()


@dataclass
class AntiAliasing:
    """The regulariser as a callable: ``AntiAliasing(...)(model) -> scalar tensor``.

    factor: weight of the term (0.1 in the paper's cross-resolution runs).
    target: "gabor" (kernel network only) or "gabor+mask" (also the mask).
    method: "together" or "summed"; fn: "l2_relu" or "offset_elu".
    gauss_stddevs: standard deviations of a Gaussian's spectrum counted as its bandwidth (2.0).
    horizon: grid size for the Nyquist frequency; None = each layer's own grid size.
    """

    factor: float = 0.1
    target: str = "gabor"
    method: str = "together"
    fn: str = "l2_relu"
    gauss_stddevs: float = 2.0
    horizon: Optional[int] = None

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.target, TARGETS, "target"),
            (self.method, METHODS, "method"),
            (self.fn, PENALTIES, "fn"),
        ):
            if value not in allowed:
                raise ValueError(f"anti-aliasing {what} must be one of {list(allowed)}, got {value!r}")

    def layer_excess(self, layer: CKConv) -> torch.Tensor:
        """Frequencies over their targets for one layer: (F,) for "together", (1,) for "summed"."""
        freqs = layer.kernel_net.frequency_bounds(self.gauss_stddevs)
        if freqs is None:
            raise ValueError(
                f"anti-aliasing needs kernel networks with analytic frequencies (MAGNet, Gabor, Fourier), "
                f"got {type(layer.kernel_net).__name__}"
            )
        mask_freq = None
        if self.target == "gabor+mask":
            if layer.mask is None:
                raise ValueError("anti-aliasing target 'gabor+mask' needs layers with a mask (FlexConv)")
            mask_freq = layer.mask.frequency_bounds(self.gauss_stddevs)
        grid = self.horizon if self.horizon is not None else max(layer.grid_sizes())
        nyquist = nyquist_frequency(grid)
        if self.method == "summed":
            total = freqs.sum() if mask_freq is None else freqs.sum() + mask_freq
            return (total - nyquist).reshape(1)
        if mask_freq is not None:
            freqs = freqs + mask_freq / freqs.shape[0]
        return freqs - nyquist / freqs.shape[0]

    def __call__(self, model: nn.Module | Iterable[CKConv]) -> torch.Tensor:
        layers = [m for m in model.modules() if isinstance(m, CKConv)] if isinstance(model, nn.Module) else list(model)
        if not layers:
            raise ValueError("anti-aliasing found no CKConv/FlexConv layers in the model")
        excess = torch.cat([self.layer_excess(layer) for layer in layers])
        return self.factor * _penalty(excess, self.fn)
