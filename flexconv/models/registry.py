"""Named models: ``get_model("flexnet7")``, ``list_models()``, ``@register_model``.

A model is a tiny registered function returning the configuration dataclass of one configurable
class (:class:`FlexNetConfig` -> :class:`FlexNet`, :class:`CifarResNetConfig` -> :class:`CifarResNet`,
:class:`ResNet18Config` -> torchvision's ResNet-18, optionally converted to FlexConv);
:func:`build_model` turns a configuration into a module. The built-in variants are the functions
of :mod:`flexconv.models.variants` (``grep -n "def flextcn"`` finds one); a new one is one more
such function anywhere (docs/extending.md). Overrides use the configuration's own field names,
nested for the convolution (``conv={"horizon": 9}``) and its kernel network and mask
(``conv={"kernel_net": {"hidden_channels": 16}}`` changes one argument; another ``"name"`` starts
from that class's defaults); an unknown name fails with the list of known ones. The data fields
(``in_channels``, ``num_classes``, ``data_dim``) are defaults that the training code replaces with
the dataset record's values. ``get_model(name, pretrained=True)`` loads a released checkpoint
(:mod:`flexconv.models.pretrained`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Union

from torch import nn

from flexconv.models.cifar_resnet import CifarResNet, CifarResNetConfig
from flexconv.models.flexnet import FlexNet, FlexNetConfig
from flexconv.models.pretrained import get_release, read_release
from flexconv.models.resnet18 import ResNet18Config, resnet18

ModelConfig = Union[FlexNetConfig, CifarResNetConfig, ResNet18Config]
_MODELS: dict[str, Callable[[], ModelConfig]] = {}
_BUILDERS: dict[type, Callable[[Any], nn.Module]] = {
    FlexNetConfig: FlexNet,
    CifarResNetConfig: CifarResNet,
    ResNet18Config: resnet18,
}


def register_model(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    """Register ``fn`` (no arguments, returns a model configuration) under its name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_MODELS)


def apply_overrides(config: Any, overrides: dict[str, Any], where: str = "model") -> Any:
    """dataclasses.replace, recursing into nested dataclasses; unknown keys raise ValueError.

    A nested ``{"name": ..., ...}`` mapping (``kernel_net``, ``mask``) is updated key by key,
    unless the override names another class: then it replaces the mapping.
    """
    known = {f.name for f in dataclasses.fields(config)}
    changes = {}
    for key, value in overrides.items():
        if key not in known:
            raise ValueError(f"unknown {where} option {key!r}; known: {sorted(known)}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = apply_overrides(current, value, f"{where}.{key}")
        elif (
            isinstance(current, dict)
            and isinstance(value, dict)
            and value.get("name", current.get("name")) == current.get("name")
        ):
            value = {**current, **value}
        changes[key] = value
    return dataclasses.replace(config, **changes)


def model_function(name: str) -> Callable[[], ModelConfig]:
    """The registered function of model ``name`` (its ``__module__`` tells where it is defined)."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _MODELS[name]


def model_config(name: str, **overrides: Any) -> ModelConfig:
    """The configuration of model ``name`` with ``overrides`` applied."""
    return apply_overrides(model_function(name)(), overrides, name)


def build_model(config: ModelConfig) -> nn.Module:
    """The module described by ``config``."""
    return _BUILDERS[type(config)](config)


def config_dict(config: ModelConfig) -> dict[str, Any]:
    """A configuration as plain data (nested dicts), e.g. for a checkpoint or a Hydra node."""
    return dataclasses.asdict(config)


def model_from_release(release: dict[str, Any]) -> nn.Module:
    """The model a release file (:func:`flexconv.models.pretrained.read_release`) describes, with its weights, in
    eval mode."""
    model = build_model(model_config(release["model_name"], **release["model_config"]))
    model.load_state_dict(release["state_dict"])
    return model.eval()


def get_model(name: str, pretrained: bool = False, **overrides: Any) -> nn.Module:
    """Build registered model ``name``, e.g. ``get_model("flexnet7", conv={"horizon": 9})``;
    ``pretrained=True``: the released checkpoint ``name`` with its weights, in eval mode."""
    if pretrained:
        if overrides:
            raise ValueError(f"a released checkpoint is built as it was trained; got overrides {sorted(overrides)}")
        return model_from_release(read_release(get_release(name).path))
    return build_model(model_config(name, **overrides))
