"""Per-parameter optimiser hints, attached where a parameter is created.

A module marks a parameter with e.g. ``set_hint(param, lr_factor=0.1)``; the optimiser builder
(:func:`param_groups`) groups parameters by hint instead of walking module types. FlexConv's
Gaussian-mask parameters use this for their x0.1 learning rate (the paper's
``mask_params_lr_factor``).
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

_HINT_ATTR = "_optim_hints"


def set_hint(param: nn.Parameter, *, lr_factor: float | None = None, weight_decay: float | None = None) -> None:
    """Record optimiser hints on ``param`` (kept by ``.to()``, ``deepcopy`` and pickling)."""
    hints = dict(getattr(param, _HINT_ATTR, {}))
    if lr_factor is not None:
        hints["lr_factor"] = float(lr_factor)
    if weight_decay is not None:
        hints["weight_decay"] = float(weight_decay)
    setattr(param, _HINT_ATTR, hints)


def get_hints(param: torch.Tensor) -> dict[str, float]:
    """The hints recorded on ``param`` (empty when none)."""
    return dict(getattr(param, _HINT_ATTR, {}))


def param_groups(
    params: Iterable[tuple[str, nn.Parameter]] | nn.Module, lr: float, weight_decay: float = 0.0
) -> list[dict]:
    """Optimiser parameter groups: one per distinct hint, with lr = lr * lr_factor.

    ``params``: a module or its ``named_parameters()``. Parameters that do not require grad are
    left out. Each group has keys ``params``, ``lr``, ``weight_decay`` and ``names``.
    """
    named = params.named_parameters() if isinstance(params, nn.Module) else params
    groups: dict[tuple[float, float], dict] = {}
    for name, param in named:
        if not param.requires_grad:
            continue
        hints = get_hints(param)
        key = (lr * hints.get("lr_factor", 1.0), hints.get("weight_decay", weight_decay))
        group = groups.setdefault(key, {"params": [], "names": [], "lr": key[0], "weight_decay": key[1]})
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())
