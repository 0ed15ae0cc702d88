"""The learnable Gaussian mask of FlexConv and its dynamic cropping.

FlexConv (Romero et al. 2022, arXiv 2110.08059) multiplies a continuous kernel by
``prod_d exp(-1/2 ((x_d - m_d) / sigma_d)^2)``: the widths ``sigma_d`` *are* the kernel size
and are learned by gradient descent (at a x0.1 learning rate by default). Where the mask is
below ``threshold`` the kernel is cut off (dynamic cropping), so small kernels are cheap.

Cropping rules (those of the original code, reproduced exactly):

* centred layers: per axis, the larger absolute root ``r = max |m_d +- sigma_d sqrt(-2 ln t)|``;
  if ``r < 1`` only positions in ``(-r, r)`` are kept, symmetrically, so kernels stay centred.
* causal layers (1D): the smaller root ``r = m - |sigma| sqrt(-2 ln t)``; if ``|r| < 1`` only
  positions ``> r`` are kept (the most recent part of the kernel).

A mask whose initial width crops an axis to a single tap never learns its size: cropped taps give the
mean and width no gradient, and the one tap left has mask value 1 whatever the width. So, unlike the
original, the initial width is made grid-aware when the layer's grid is first known
(:meth:`GaussianMask.fit_to_grid`): an axis that would keep fewer than ``min_taps`` (3) taps is widened
until its threshold crossing lies half a tap spacing beyond the ``min_taps``-th tap. ``min_taps=1``
keeps the width as given (the paper's rule; :mod:`flexconv.compat` sets it for the original's models).

Where the original's window comes out empty (it then fails), ours keeps the nearest taps instead:
the last one of a causal axis (a width far below the grid spacing), the two central ones of an even
centred grid (``horizon="same"`` on an even input: no tap sits at 0). Every other window is the
original's, so results where the original runs are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import nn
from torch.types import Device

from flexconv.nn.hints import set_hint


def _check_width(width: float, where: str) -> None:
    if not math.isfinite(width) or width <= 0:
        raise ValueError(f"{where}: the mask width must be finite and > 0, got {width}")


class GaussianMask(nn.Module):
    """Gaussian window with a learnable mean and width per axis.

    Args:
        data_dim: number of spatial axes D.
        init_width: initial sigma (0.075 in the paper: a 5x5 kernel on a 33x33 grid).
        init_mean: initial centre; default 1.0 (the current time step) for causal layers, else 0.
        causal: whether the layer is causal (decides the cropping rule).
        threshold: mask value under which positions are cropped (0.1 in the paper).
        dynamic_cropping: crop the grid where the mask is below ``threshold``.
        lr_factor: learning-rate factor hint for the mean and width (0.1 in the paper).
        crop_margin: taps kept beyond the threshold on each cropped side (0 in the paper). Cropped taps
            give the mean and width no gradient, so with 0 a mask cropped to its single centre tap
            (where its value is 1 whatever the width) can never grow again; 1 keeps a tap whose
            gradient can widen it.
        min_taps: taps per axis that the initial width keeps at least, where the grid has them (see
            :meth:`fit_to_grid`); 1 keeps ``init_width`` as given, as the paper.
    """

    def __init__(
        self,
        data_dim: int,
        *,
        init_width: float = 0.075,
        init_mean: Optional[float] = None,
        causal: bool = False,
        threshold: float = 0.1,
        dynamic_cropping: bool = True,
        lr_factor: float = 0.1,
        crop_margin: int = 0,
        min_taps: int = 3,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        _check_width(init_width, "GaussianMask")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"GaussianMask: threshold must be in (0, 1), got {threshold}")
        if crop_margin < 0:
            raise ValueError(f"GaussianMask: crop_margin must be >= 0, got {crop_margin}")
        if min_taps < 1:
            raise ValueError(f"GaussianMask: min_taps must be >= 1, got {min_taps}")
        if init_mean is None:
            init_mean = 1.0 if causal else 0.0
        self.data_dim = data_dim
        self.causal = causal
        self.threshold = threshold
        self.dynamic_cropping = dynamic_cropping
        self.crop_margin = crop_margin
        self.min_taps = min_taps
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.mean = nn.Parameter(torch.full((data_dim,), float(init_mean), **factory))
        self.width = nn.Parameter(torch.full((data_dim,), float(init_width), **factory))
        for name in ("mean", "width"):
            set_hint(self, name, lr_factor=lr_factor)

    def extra_repr(self) -> str:
        margin = f", crop_margin={self.crop_margin}" if self.crop_margin else ""
        margin += f", min_taps={self.min_taps}" if self.min_taps != 3 else ""
        return (
            f"data_dim={self.data_dim}, causal={self.causal}, threshold={self.threshold}, "
            f"cropping={self.dynamic_cropping}{margin}"
        )

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """Mask values on a positions grid (D, *S) -> (*S)."""
        mask: Optional[torch.Tensor] = None
        for d in range(self.data_dim):
            axis = torch.exp(-0.5 * ((positions[d] - self.mean[d]) / self.width[d]).square())
            mask = axis if mask is None else mask * axis
        assert mask is not None  # data_dim >= 1
        return mask

    def fit_to_grid(self, sizes: Sequence[int]) -> None:
        """Widen each axis whose window on a grid of ``sizes`` taps would keep fewer than ``min_taps`` taps.

        The layer calls this once, when its grid is first known (at construction for an explicit
        horizon, at the first input for ``"same"``/``"full"``), never after loading weights or on a
        resolution change. A widened axis gets the width whose threshold crossing lies half a tap
        spacing beyond its ``min_taps``-th nearest tap (nearest to the centre; to the mean for causal
        axes), so that tap's mask value sits well above the threshold and its width gradient is not 0.
        """
        if self.min_taps <= 1:
            return
        spread = math.sqrt(-2.0 * math.log(self.threshold))
        with torch.no_grad():
            for d, n in enumerate(sizes):
                taps = min(self.min_taps, n)
                if taps <= 1:
                    continue
                positions = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
                mean, reach = float(self.mean[d]), abs(float(self.width[d])) * spread
                # Causal axes keep the taps within ``reach`` below the mean; centred ones within |mean| + reach of 0.
                offset = 0.0 if self.causal else abs(mean)
                distance = (mean - positions).clamp(min=0.0) if self.causal else positions.abs()
                needed = float(distance.sort().values[taps - 1])
                if offset + reach <= needed:
                    self.width[d] = (needed + 1.0 / (n - 1) - offset) / spread

    def crop_window(self, axis_positions: Sequence[torch.Tensor]) -> tuple[slice, ...]:
        """Slices of each axis to keep, from the current mean and width (no gradient).

        axis_positions: per axis, the 1D tensor of grid positions (linspace(-1, 1, n)).
        The window is never empty: a causal axis keeps at least its last tap (the current time
        step), a centred axis at least its central tap (two central taps on an even grid, e.g.
        ``horizon="same"`` on an even input, where no tap sits at 0); ``crop_margin`` more taps are
        kept on each cropped side. Reads the mean and width back to the host (see :meth:`window_weights`
        for the same window computed on the device).
        """
        return self.window_from(self.mean.detach().tolist(), self.width.detach().tolist(), axis_positions)

    def window_from(
        self, means: Sequence[float], widths: Sequence[float], axis_positions: Sequence[torch.Tensor]
    ) -> tuple[slice, ...]:
        """:meth:`crop_window` for given means and widths (one float per axis), already on the host."""
        for what, values in (("width", widths), ("mean", means)):
            for v in values:
                if not math.isfinite(v) or (what == "width" and v == 0.0):
                    raise FloatingPointError(f"GaussianMask: learned {what} became {v}; training diverged")
        if not self.dynamic_cropping:
            return tuple(slice(0, len(p)) for p in axis_positions)
        spread = math.sqrt(-2.0 * math.log(self.threshold))
        window = []
        for p, m, w in zip(axis_positions, means, widths):
            n = p.shape[0]
            offset = abs(w) * spread
            if self.causal:
                root = m - offset
                if abs(root) >= 1.0:
                    window.append(slice(0, n))
                    continue
                # p is ascending: the first position > root is at index #(p <= root).
                start = max(min(int((p <= root).sum()), n - 1) - self.crop_margin, 0)
                window.append(slice(start, n))
            else:
                root = max(abs(m - offset), abs(m + offset))
                if root >= 1.0:
                    window.append(slice(0, n))
                    continue
                start = max(min(int((p[: n // 2 + 1] <= -root).sum()), (n - 1) // 2) - self.crop_margin, 0)
                window.append(slice(start, n - start))
        return tuple(window)

    def window_weights(self, axis_positions: Sequence[torch.Tensor], crop: Sequence[slice]) -> torch.Tensor:
        """The window of :meth:`crop_window` as 0/1 weights over the taps of a wider ``crop``, computed on
        the device with tensor operations (nothing is read back: the path of ``torch.compile`` and CUDA graphs).

        axis_positions: per axis, the full grid's positions (n,) on the device; crop: per axis, a slice
        that contains the exact window. Returns (*K) with K the crop's sizes: 1 on the exact window's
        taps, 0 elsewhere, so that a kernel cropped to ``crop`` and weighted equals the exactly cropped
        kernel padded with zeros. The window's roots are computed in float64 and compared in the
        positions' dtype, as :meth:`crop_window` does. Diverged (non-finite) masks are not detected here.
        """
        if not self.dynamic_cropping:
            raise ValueError("GaussianMask.window_weights: this mask does not crop (dynamic_cropping=False)")
        dims = len(axis_positions)
        weights: Optional[torch.Tensor] = None
        spread = math.sqrt(-2.0 * math.log(self.threshold))
        means, widths = self.mean.detach().double(), self.width.detach().double()
        for d, (p, keep_slice) in enumerate(zip(axis_positions, crop)):
            n = p.shape[0]
            index = torch.arange(n, device=p.device)
            if self.causal:
                root = means[d] - widths[d].abs() * spread
                count = (p <= root.to(p.dtype)).sum().clamp(max=n - 1)
                start = torch.where(root.abs() >= 1.0, 0, (count - self.crop_margin).clamp(min=0))
                keep = index >= start
            else:
                offset = widths[d].abs() * spread
                root = torch.maximum((means[d] - offset).abs(), (means[d] + offset).abs())
                count = (p[: n // 2 + 1] <= (-root).to(p.dtype)).sum().clamp(max=(n - 1) // 2)
                start = torch.where(root >= 1.0, 0, (count - self.crop_margin).clamp(min=0))
                keep = (index >= start) & (index < n - start)
            axis = keep[keep_slice].to(p.dtype).view([-1 if a == d else 1 for a in range(dims)])
            weights = axis if weights is None else weights * axis
        assert weights is not None  # one axis at least
        return weights

    def frequency_bounds(self, gauss_stddevs: float = 2.0) -> torch.Tensor:
        """Frequency bound of the mask, a scalar (the kernel networks' hook of the same name gives one
        per filter): max_d (1 / |sigma_d|) * gauss_stddevs / (2 pi)."""
        return (1.0 / self.width.abs()).amax() * gauss_stddevs / (2 * math.pi)


# Masks by class name, for layers built from configs (``mask="GaussianMask"``).
MASKS: dict[str, type[GaussianMask]] = {"GaussianMask": GaussianMask}


def mask_class(name: str) -> type[GaussianMask]:
    """Look up a mask by name (e.g. "GaussianMask"); unknown names list the known ones."""
    try:
        return MASKS[name]
    except KeyError:
        raise ValueError(f"unknown mask {name!r}; known: {sorted(MASKS)}") from None
