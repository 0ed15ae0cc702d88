"""Per-parameter optimiser hints, declared by the module that creates the parameter.

A module marks one of its parameters with e.g. ``set_hint(self, "width", lr_factor=0.1)``; the
optimiser builder (:func:`param_groups`) groups parameters by hint instead of walking module
types. FlexConv's Gaussian-mask parameters use this for their x0.1 learning rate (the paper's
``mask_params_lr_factor``). Hints live in a plain dict attribute of the module, so they survive
``copy.deepcopy``, pickling and ``.to()`` (attributes set on ``nn.Parameter`` objects do not survive
``deepcopy``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

_HINT_ATTR = "_optim_hints"


def set_hint(
    module: nn.Module, param_name: str, *, lr_factor: float | None = None, weight_decay: float | None = None
) -> None:
    """Record optimiser hints for ``module``'s own parameter ``param_name``."""
    if param_name not in dict(module.named_parameters(recurse=False)):
        raise KeyError(f"{type(module).__name__} has no parameter {param_name!r}")
    hints = getattr(module, _HINT_ATTR, None)
    if hints is None:
        hints = {}
        setattr(module, _HINT_ATTR, hints)
    entry = hints.setdefault(param_name, {})
    if lr_factor is not None:
        entry["lr_factor"] = float(lr_factor)
    if weight_decay is not None:
        entry["weight_decay"] = float(weight_decay)


def named_hints(model: nn.Module) -> dict[str, dict[str, float]]:
    """Hints of every parameter of ``model`` that has some, by full parameter name."""
    found = {}
    for prefix, module in model.named_modules():
        for name, hints in getattr(module, _HINT_ATTR, {}).items():
            found[f"{prefix}.{name}" if prefix else name] = dict(hints)
    return found


def param_groups(model: nn.Module, lr: float, weight_decay: float = 0.0) -> list[dict[str, Any]]:
    """Optimiser parameter groups: one per distinct hint, with lr = lr * lr_factor.

    Parameters that do not require grad are left out. Each group has keys ``params``, ``lr``,
    ``weight_decay`` and ``names``.
    """
    hints = named_hints(model)
    groups: dict[tuple[float, float], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        hint = hints.get(name, {})
        key = (lr * hint.get("lr_factor", 1.0), hint.get("weight_decay", weight_decay))
        group = groups.setdefault(key, {"params": [], "names": [], "lr": key[0], "weight_decay": key[1]})
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())
