"""Static crop sizes for compiled training: FlexConv's dynamic cropping with a bounded number of shapes.

FlexConv crops its kernel grid to the window where the Gaussian mask is above its threshold, and
that window changes as training widens the mask. Eagerly each layer reads its mask back to the host
at every forward to find it. A ``torch.compile`` graph (and a CUDA graph) needs fixed shapes and no
host reads, so under compile a layer crops to static sizes instead (:meth:`CKConv.make_kernel`),
Python ints that contain the exact window, and zeroes the taps outside that window on the device.

:class:`StaticCrops` chooses those sizes between steps, with one host read for the whole model:

* a layer's size per axis is the exact window rounded up to a coarse ladder: 1, 2, 4, 8, ... taps on
  a causal axis, 2h + (n mod 2) taps for h in 0, 1, 2, 4, 8, ... on a centred axis of n taps,
  capped at the grid. Sizes only grow, so a mask that narrows again changes nothing.
* Every change of any layer's size changes the graph: one refresh that changes several layers
  counts once, and the ``max_changes``-th change sets every layer to its whole grid, after which
  nothing changes again. A model thus compiles at most ``max_changes`` more times over a run
  (once for each mode it runs in: training and evaluation each have their graph).

:func:`compile_options` gives the inductor options to compile such a model with: inductor's layout
optimisation off. With it on, inductor stores every activation of a CPU graph that holds any
``nn.Conv`` (a FlexNet's first layer, its 1x1 shortcuts) channels-last, while the FFT convolution
operator ``flexconv::fft_conv`` keeps eager's contiguous layout: each FlexConv layer then converts
its input and output, and the fused ReLU/dropout kernels write their masks transposed.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from flexconv.nn.ckconv import CKConv


def compile_options(mode: Optional[str] = None) -> dict[str, Any]:
    """``torch.compile``'s ``options`` for a model of FlexConv layers: those of ``mode`` ("reduce-overhead",
    "max-autotune", ...; None: the default) with inductor's layout optimisation off (see the module docstring).
    Pass them instead of ``mode`` (``torch.compile`` takes one or the other)."""
    mode_options: dict[str, Any] = torch._inductor.list_mode_options(mode or "default")
    return {**mode_options, "layout_optimization": False}


def ladder_size(exact: int, grid: int, causal: bool) -> int:
    """The static size for an exact window of ``exact`` taps on an axis of ``grid`` taps (see the module docstring)."""
    if causal:
        return min(grid, 1 << max(exact - 1, 0).bit_length())
    half = exact // 2  # taps on each side of the centre
    rung = 0 if half == 0 else 1 << (half - 1).bit_length()
    return min(grid, 2 * rung + grid % 2)


class StaticCrops:
    """Chooses the static crop sizes of every masked layer of ``model``; call :meth:`refresh` before each
    training step (and before the first compiled forward).

    model: any module holding CKConv/FlexConv layers; every layer's grid must be fixed (one eager forward,
        or ``set_grid_size``) before the first refresh. Each refresh also reads the grid of layers whose
        state was loaded since (``load_state_dict``), which the compiled graph cannot read itself.
    max_changes: how many times the sizes may change after the first refresh (the recompile budget).
    """

    def __init__(self, model: nn.Module, max_changes: int = 8) -> None:
        if max_changes < 1:
            raise ValueError(f"max_changes must be >= 1, got {max_changes}")
        self.all_layers = [m for m in model.modules() if isinstance(m, CKConv)]
        self.layers = [m for m in self.all_layers if m.mask is not None]
        self.max_changes = max_changes
        self.changes = 0
        self._started = False

    def _exact_sizes(self) -> list[tuple[int, ...]]:
        """Every layer's exact window sizes, from one host read of all masks."""
        if not self.layers:
            return []
        masks = [m.mask for m in self.layers if m.mask is not None]  # one per layer: self.layers have masks
        values = torch.cat(
            [torch.cat((mask.mean.detach(), mask.width.detach())).double().cpu() for mask in masks]
        ).tolist()
        sizes, at = [], 0
        for layer, mask in zip(self.layers, masks):
            d = layer.data_dim
            means, widths = values[at : at + d], values[at + d : at + 2 * d]
            at += 2 * d
            _, axes = layer._grid_positions(layer.grid_sizes(), layer._reference_param())
            window = mask.window_from(means, widths, axes)
            sizes.append(tuple(w.stop - w.start for w in window))
        return sizes

    def refresh(self) -> bool:
        """Grow the static sizes to contain every layer's current window; True when any size changed
        after the first refresh (the next compiled call then compiles again)."""
        for layer in self.all_layers:
            layer.grid_sizes()
        wanted = []
        for layer, exact in zip(self.layers, self._exact_sizes()):
            grid = layer.grid_sizes()
            current = layer._crop_sizes or (0,) * len(grid)
            wanted.append(tuple(max(c, ladder_size(e, n, layer.causal)) for c, e, n in zip(current, exact, grid)))
        changed = [(layer, sizes) for layer, sizes in zip(self.layers, wanted) if sizes != layer._crop_sizes]
        if not changed:
            return False
        if not self._started:
            self._started = True
            for layer, sizes in changed:
                layer.set_crop_sizes(sizes)
            return False
        self.changes += 1
        if self.changes >= self.max_changes:  # the last change: every layer to its whole grid
            changed = [(layer, layer.grid_sizes()) for layer in self.layers]
        for layer, sizes in changed:
            layer.set_crop_sizes(sizes)
        return True
