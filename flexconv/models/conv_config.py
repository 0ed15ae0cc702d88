"""Which convolution a network uses, as data: FlexConv, CKConv or a plain convolution.

:class:`ConvConfig` holds the layer's own argument names (see flexconv.nn). Its ``kernel_net`` and
``mask`` are nested mappings ``{"name": <registered class>, <argument>: <value>, ...}`` whose keys
are that class's own constructor arguments (``kernel_net={"name": "SIREN", "omega_0": 30.0}``);
the configuration fills in every other argument's default, so a stored or composed config shows
all of them (``model.conv.kernel_net.hidden_channels=16`` overrides one) and an unknown key fails
at once, naming the known ones. :func:`conv_factory` turns a configuration into
``factory(in_channels, out_channels) -> nn.Module``, so networks never unpack kernel options
themselves, and a new kernel network needs no change here (flexconv.nn.register_kernel_net).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union, cast

from torch import nn
from torch.nn.modules.conv import _ConvNd

from flexconv.nn import CKConv, FlexConv, PaddedConv, kernel_net_class, nd_class
from flexconv.nn.mask import mask_class

ConvFactory = Callable[[int, int], nn.Module]
Spec = dict[str, Any]  # {"name": class name, <constructor argument>: value, ...}

CONV_TYPES = ("FlexConv", "CKConv", "Conv")
# Set by the layer, never by a config: the kernel network's and mask's first arguments, the
# factory keywords, and the mask's ``causal`` (the layer's own).
LAYER_ARGUMENTS = ("self", "data_dim", "out_channels", "causal", "device", "dtype")
PLAIN = (bool, int, float, str, type(None))


def _options(cls: type) -> dict[str, inspect.Parameter]:
    """The constructor arguments of ``cls`` that a config may set."""
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = inspect.signature(cls).parameters
    return {name: p for name, p in parameters.items() if name not in LAYER_ARGUMENTS and p.kind in named}


def complete_spec(spec: Optional[Mapping[str, Any]], lookup: Callable[[str], type], default: str, where: str) -> Spec:
    """``spec`` with the defaults of its class's other (plain-data) arguments filled in.

    ``lookup`` maps ``spec["name"]`` (default ``default``) to the class. A key that is not one of the
    class's keyword arguments raises ValueError naming it and the known ones.
    """
    spec = dict(spec or {})
    name = spec.pop("name", default)
    options = _options(lookup(name))
    unknown = sorted(set(spec) - set(options))
    if unknown:
        raise ValueError(
            f"unknown {where} option {unknown[0]!r} of {name}; known: {sorted(['name', *options])} (a Hydra override "
            f"of the name keeps the old class's keys: replace the node, ~model.conv.{where} "
            f"'+model.conv.{where}={{name: ...}}')"
        )
    defaults = {k: p.default for k, p in options.items() if p.default is not p.empty and isinstance(p.default, PLAIN)}
    return {"name": name, **defaults, **spec}


def spec_factory(
    spec: Optional[Mapping[str, Any]], lookup: Callable[[str], type], default: str, where: str
) -> functools.partial:
    """``functools.partial(cls, **arguments)`` for ``spec`` (checked and completed by :func:`complete_spec`)."""
    arguments = complete_spec(spec, lookup, default, where)
    return functools.partial(lookup(arguments.pop("name")), **arguments)


@dataclass
class ConvConfig:
    """Convolution used throughout a network.

    type: "FlexConv", "CKConv" or "Conv" (a plain ``nn.ConvNd`` of ``kernel_size``).
    horizon: continuous layers' grid size (odd int, "same" or "full").
    kernel_net: the kernel network of FlexConv/CKConv, ``{"name": <flexconv.nn.KERNEL_NETS name>,
        <its constructor argument>: value}``; None: MAGNet's defaults. Must be None for "Conv".
    mask: FlexConv's mask, ``{"name": "GaussianMask", "init_width": 0.075, "threshold": 0.1,
        "dynamic_cropping": True, "lr_factor": 0.1, ...}``; None: GaussianMask's defaults. Must be
        None for "CKConv" and "Conv" (they have no mask).
    conv_method: "auto", "spatial" or "fft".
    separable: depthwise continuous kernels + 1x1 mixing.
    causal: None = causal for 1D data, centred otherwise.
    kernel_size: plain convolutions' size ("Conv" only).
    bias: layer bias.
    """

    type: str = "FlexConv"
    horizon: Union[int, str] = 33
    kernel_net: Optional[dict[str, Any]] = None
    mask: Optional[dict[str, Any]] = None
    conv_method: str = "auto"
    separable: bool = False
    causal: Optional[bool] = None
    kernel_size: int = 3
    bias: bool = True

    def __post_init__(self) -> None:
        if self.type not in CONV_TYPES:
            raise ValueError(f"unknown conv type {self.type!r}; known: {list(CONV_TYPES)}")
        if self.type == "Conv":
            if self.kernel_net is not None or self.mask is not None:
                raise ValueError("conv type 'Conv' (a plain convolution) takes no kernel_net or mask; set them to None")
            return
        self.kernel_net = complete_spec(self.kernel_net, kernel_net_class, "MAGNet", "kernel_net")
        if self.type == "CKConv":
            if self.mask is not None:
                raise ValueError("conv type 'CKConv' has no mask; set mask to None, or use type 'FlexConv'")
            return
        self.mask = complete_spec(self.mask, mask_class, "GaussianMask", "mask")


def conv_factory(cfg: ConvConfig, data_dim: int) -> ConvFactory:
    """factory(in_channels, out_channels) building the configured convolution."""
    causal = data_dim == 1 if cfg.causal is None else cfg.causal
    if cfg.type == "Conv":
        conv_cls = cast("Callable[..., _ConvNd]", nd_class("Conv", data_dim))

        def plain(in_channels: int, out_channels: int) -> nn.Module:
            return PaddedConv(conv_cls(in_channels, out_channels, cfg.kernel_size, bias=cfg.bias), causal)

        return plain
    common: dict[str, Any] = dict(
        data_dim=data_dim,
        horizon=cfg.horizon,
        kernel_net=spec_factory(cfg.kernel_net, kernel_net_class, "MAGNet", "kernel_net"),
        causal=causal,
        separable=cfg.separable,
        bias=cfg.bias,
        conv_method=cfg.conv_method,
    )
    if cfg.type == "CKConv":
        return functools.partial(CKConv, **common)
    return functools.partial(FlexConv, mask=spec_factory(cfg.mask, mask_class, "GaussianMask", "mask"), **common)
