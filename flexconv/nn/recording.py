"""Recording the kernels a model's continuous-kernel layers used in a forward, with their autograd graphs,
so that a loss on the kernels reuses them instead of evaluating every kernel network again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from flexconv.nn.ckconv import CKConv


@contextlib.contextmanager
def recording_kernels(model: nn.Module) -> Iterator[dict[CKConv, torch.Tensor]]:
    """Within the block, every CKConv/FlexConv of ``model`` records the effective kernel its forward
    used, with its autograd graph, in the yielded dict (by layer).

    A loss on the kernels (the kernel-norm penalty of the paper's sequential runs) then reuses them
    instead of evaluating every kernel network again: a tenth of a FlexTCN step at full-length
    kernels. Nothing is kept after the block.
    """
    used: dict[CKConv, torch.Tensor] = {}
    layers = [m for m in model.modules() if isinstance(m, CKConv)]
    for layer in layers:
        layer._kernel_record = used
    try:
        yield used
    finally:
        for layer in layers:
            layer._kernel_record = None
