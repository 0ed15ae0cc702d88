"""Load layers, models and checkpoints of the original FlexConv code (arXiv 2110.08059).

``from_original(config, state)`` builds our module from the original constructor arguments and
loads a state dict with the original parameter names. Supported configs:

* a layer: ``{"layer": "FlexConv" | "CKConv", <original keyword arguments>}``;
* a stack of layers: ``{"layers": [<layer config>, ...]}`` -> ``nn.Sequential`` (state keys ``0.*``, ``1.*``);
* a model: ``{"model": "Img_ResNet" | "SeqData_ResNet" | "SeqData_TCN", "in_channels", "out_channels",
  "net", "kernel", "conv", "mask"}`` (the original's config sections).

``antialiasing_from_original(config)`` gives the regulariser of an original run, so that
``antialiasing_from_original(cfg)(from_original(cfg, state))`` is the original's value.

``module_from_original(config, state)`` gives the training module that ``flexconv train`` uses
(:class:`flexconv.train.module.TaskModule`) for an original *run* config (a model config
plus the original's ``train`` section and ``kernel.regularize``/``regularize_params``), loaded with
``state``: its ``training_loss(inputs, labels)`` and ``configure_optimizers()`` are the original
training step (tests/train/test_trajectory.py replays the original's steps through it).

Checkpoints of the original code are float32 (buffers included): they load as float32 modules;
the dropped ``mask_threshold`` buffer is compared with the config's value cast to its dtype.

Names (original -> ours)::

    kernel_dim_linear          -> data_dim
    horizon                    -> horizon              (grid size; train_length -> grid_size buffer)
    kernel_type                -> kernel_net.name      (MAGNet; Gabor -> GaborNet; Fourier -> FourierNet; SIREN; MLP)
    kernel_no_hidden           -> kernel_net.hidden_channels
    kernel_no_layers           -> kernel_net.num_layers
    kernel_input_scale         -> kernel_net.input_scale
    kernel_omega_0             -> kernel_net.omega_0
    kernel_learn_omega_0       -> kernel_net.learn_omega_0
    kernel_steerable           -> kernel_net.steerable
    kernel_norm                -> kernel_net.norm      (MLP: BatchNorm -> "batch", LayerNorm -> "layer")
    kernel_sampling_rate_norm  -> kernel_scale
    kernel_init_spatial_value  -> init_spatial_extent() (FlexConv: 1.667 x mask width)
    conv_use_fft               -> conv_method "auto"   (the cheaper path; results are equal)
    conv_bias                  -> bias
    mask_use (False)           -> ConvConfig.type "CKConv" (no mask)
    mask_init_value            -> mask.init_width      (GaussianMask(init_width=); min_taps=1: the width as given)
    mask_threshold             -> mask.threshold
    mask_dynamic_cropping      -> mask.dynamic_cropping
    mask_params [[m_d, s_d]]   -> mask.mean [m_d], mask.width [s_d]
    Kernel.filters.{l}.*       -> kernel_net.filters.{l}.*        (1x1 conv weights -> linear weights)
    Kernel.linear.{i}.*        -> kernel_net.hidden.{i}.*
    Kernel.output_linear.*     -> kernel_net.output.*
    Kernel.kernel_net.{2i}.*   -> kernel_net.layers.{i}.* (SIREN; the last one -> kernel_net.output.*)
    net.no_hidden / no_blocks  -> hidden_channels / num_blocks
    cconv1, norm1              -> stem.0, stem.1
    blocks.{i}.cconv{j}        -> blocks.{i}.conv{j}
    backbone.{i}.* (SeqData_TCN) -> blocks.{i}.*
    blocks.{i}.shortcut.0      -> blocks.{i}.shortcut
    out_layer / finallyr       -> head
    train.weight_decay         -> optim.kernel_norm_decay (a loss term, not the optimiser's decay)
    train.mask_params_lr_factor -> mask.lr_factor
    kernel.regularize_params   -> antialias (AntiAliasing fields; res -> horizon)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from flexconv.models.conv_config import ConvConfig, conv_factory
from flexconv.models.flexnet import FlexNet, FlexNetConfig
from flexconv.nn.antialias import AntiAliasing
from flexconv.nn.ckconv import CKConv

if TYPE_CHECKING:
    from flexconv.train.module import TaskModule

_KERNEL_NETS = {"MAGNet": "MAGNet", "Gabor": "GaborNet", "Fourier": "FourierNet", "SIREN": "SIREN", "MLP": "MLP"}
_KERNEL_OPTION_NAMES = {
    "MAGNet": {"kernel_input_scale": "input_scale", "kernel_steerable": "steerable"},
    "Gabor": {"kernel_input_scale": "input_scale"},
    "Fourier": {},
    "SIREN": {"kernel_omega_0": "omega_0", "kernel_learn_omega_0": "learn_omega_0"},
    "MLP": {},
}
_DEFAULT_KERNEL_OPTIONS = {
    "MAGNet": {"input_scale": 25.6},
    "Gabor": {"input_scale": 25.6},
    "Fourier": {"input_scale": 256.0},  # the original's FourierNet ignores kernel_input_scale
    "SIREN": {},
    "MLP": {},
}
_NORM_NAMES = {"BatchNorm": "batch", "LayerNorm": "layer", "": "batch"}


def _horizon(value: Any) -> int | str:
    if isinstance(value, str) and value not in ("same", "full"):
        return int(value)
    return value


def conv_config_from_original(cfg: Mapping[str, Any]) -> ConvConfig:
    """ConvConfig from the original layer keyword arguments (``kernel_*``, ``conv_*``, ``mask_*``)."""
    kernel_type = cfg.get("kernel_type", "MAGNet")
    if kernel_type not in _KERNEL_NETS:
        raise ValueError(f"unknown original kernel_type {kernel_type!r}; known: {sorted(_KERNEL_NETS)}")
    kernel_net = {
        "name": _KERNEL_NETS[kernel_type],
        "hidden_channels": cfg.get("kernel_no_hidden", 32),
        "num_layers": cfg.get("kernel_no_layers", 3),
        **_DEFAULT_KERNEL_OPTIONS[kernel_type],
    }
    for original, ours in _KERNEL_OPTION_NAMES[kernel_type].items():
        if original in cfg:
            kernel_net[ours] = cfg[original]
    if kernel_type == "MLP":
        kernel_net["norm"] = _NORM_NAMES.get(cfg.get("kernel_norm", "BatchNorm"), "none")
    layer = cfg.get("layer", "FlexConv")
    if layer == "FlexConv" and not cfg.get("mask_use", True):
        layer = "CKConv"
    if layer not in ("FlexConv", "CKConv"):
        raise ValueError(f"unknown original layer {layer!r}; expected FlexConv or CKConv")
    if cfg.get("mask_type", "gaussian") != "gaussian":
        raise ValueError("only the original's gaussian mask is supported (its sigmoid mask was never finished)")
    mask = {
        "name": "GaussianMask",
        "init_width": cfg.get("mask_init_value", 0.075),
        "threshold": cfg.get("mask_threshold", 0.1),
        "dynamic_cropping": cfg.get("mask_dynamic_cropping", True),
        "min_taps": 1,  # the original keeps the initial width whatever the grid
    }
    return ConvConfig(
        type=layer,
        horizon=_horizon(cfg["horizon"]),
        kernel_net=kernel_net,
        mask=mask if layer == "FlexConv" else None,
        conv_method="auto",
        bias=cfg.get("conv_bias", True),
    )


def _apply_original_extras(module: nn.Module, cfg: Mapping[str, Any]) -> None:
    """Options that are not constructor arguments of ours: sampling-rate norm, CKConv init extent."""
    for layer in module.modules():
        if isinstance(layer, CKConv):
            layer.kernel_scale.fill_(float(cfg.get("kernel_sampling_rate_norm", 1.0)))
            if layer.mask is None and "kernel_init_spatial_value" in cfg:
                layer.kernel_net.init_spatial_extent(min(1.0, float(cfg["kernel_init_spatial_value"])))


def layer_from_original(cfg: Mapping[str, Any]) -> CKConv:
    """Our layer for the original layer config (not loaded)."""
    data_dim = cfg.get("kernel_dim_linear", 2)
    layer = conv_factory(conv_config_from_original(cfg), data_dim)(cfg["in_channels"], cfg["out_channels"])
    assert isinstance(layer, CKConv)  # the original layers are all continuous-kernel ones
    _apply_original_extras(layer, cfg)
    return layer


def flexnet_config_from_original(cfg: Mapping[str, Any]) -> FlexNetConfig:
    """FlexNetConfig from an original model config (``net``/``kernel``/``conv``/``mask`` sections)."""
    model, net, kernel, conv, mask = cfg["model"], cfg["net"], cfg["kernel"], cfg["conv"], cfg["mask"]
    heads = {"Img_ResNet": ("resnet", "pool"), "SeqData_ResNet": ("resnet", "last"), "SeqData_TCN": ("tcn", "last")}
    if model not in heads:
        raise ValueError(f"unknown original model {model!r}; known: {sorted(heads)}")
    if net.get("nonlinearity", "ReLU") != "ReLU":
        raise ValueError(f"only ReLU FlexNets are supported, got {net['nonlinearity']!r}")
    layer_cfg = {
        "layer": conv["type"],
        "horizon": conv["horizon"],
        "kernel_type": kernel["type"],
        "kernel_no_hidden": kernel["no_hidden"],
        "kernel_no_layers": kernel["no_layers"],
        "kernel_input_scale": kernel.get("input_scale", 25.6),
        "kernel_omega_0": kernel.get("omega_0", 0.0),
        "kernel_learn_omega_0": kernel.get("learn_omega_0", False),
        "kernel_steerable": kernel.get("steerable", False),
        "kernel_norm": kernel.get("norm", "BatchNorm"),
        "conv_bias": conv.get("bias", True),
        "mask_use": mask.get("use", True),
        "mask_type": mask.get("type", "gaussian"),
        "mask_init_value": mask["init_value"],
        "mask_threshold": mask["threshold"],
        "mask_dynamic_cropping": mask["dynamic_cropping"],
    }
    if conv["type"] == "Conv":
        raise ValueError("original models with plain convolutions hold no continuous kernels; build FlexNet directly")
    factors = [] if float(net["block_width_factors"][0]) == 0.0 else list(net["block_width_factors"])
    block, head = heads[model]
    return FlexNetConfig(
        in_channels=cfg["in_channels"],
        num_classes=cfg["out_channels"],
        data_dim=kernel["dim_linear"],
        hidden_channels=net["no_hidden"],
        num_blocks=net["no_blocks"],
        block_width_factors=factors,
        dropout=net["dropout"],
        norm=_NORM_NAMES[net["norm"]],
        block=block,
        head=head,
        conv=conv_config_from_original(layer_cfg),
    )


# -- state dict names ----------------------------------------------------------------------------
_LAYER_RULES = [
    (r"Kernel\.filters\.(\d+)\.", r"kernel_net.filters.\1."),
    (r"Kernel\.linear\.(\d+)\.", r"kernel_net.hidden.\1."),
    (r"Kernel\.output_linear\.", r"kernel_net.output."),
]
_MODEL_RULES = [
    (r"^backbone\.(\d+)\.", r"blocks.\1."),
    (r"^cconv1\.", "stem.0."),
    (r"^norm1\.", "stem.1."),
    (r"^blocks\.(\d+)\.cconv(\d)\.", r"blocks.\1.conv\2."),
    (r"^blocks\.(\d+)\.shortcut\.0\.", r"blocks.\1.shortcut."),
    (r"^(out_layer|finallyr)\.", "head."),
]
_DROPPED_BUFFERS = ("temperature", "mask_threshold")


def _siren_key(key: str, last_index: int) -> str:
    match = re.search(r"Kernel\.kernel_net\.(\d+)\.", key)
    if match is None:
        return key
    index = int(match.group(1))
    target = "kernel_net.output." if index == last_index else f"kernel_net.layers.{index // 2}."
    return key[: match.start()] + target + key[match.end() :]


def original_to_ours(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Map each original state-dict key to ours (``mask_params`` -> the mask's ``mean``/``width`` prefix)."""
    siren_indices = [int(m.group(1)) for k in state for m in [re.search(r"Kernel\.kernel_net\.(\d+)\.", k)] if m]
    last_siren = max(siren_indices, default=-1)
    names = {}
    for key in state:
        if key.rsplit(".", 1)[-1] in _DROPPED_BUFFERS:
            continue
        ours = _siren_key(key, last_siren)
        for pattern, repl in _LAYER_RULES + _MODEL_RULES:
            ours = re.sub(pattern, repl, ours)
        ours = re.sub(r"(^|\.)train_length$", r"\1grid_size", ours)
        ours = re.sub(r"(^|\.)mask_params$", r"\1mask", ours)
        names[key] = ours
    return names


def convert_state_dict(state: Mapping[str, torch.Tensor], module: nn.Module) -> dict[str, torch.Tensor]:
    """The original ``state`` renamed and reshaped for ``module`` (ours)."""
    ours = module.state_dict()
    converted: dict[str, torch.Tensor] = {}
    for key, name in original_to_ours(state).items():
        value = torch.as_tensor(state[key])
        if key.endswith("mask_params"):
            converted[name + ".mean"] = value[:, 0].clone()
            converted[name + ".width"] = value[:, 1].clone()
        elif name.endswith("grid_size"):
            converted[name] = value.to(torch.long).reshape(1).expand_as(ours[name]).clone()
        elif name not in ours:
            raise KeyError(f"original key {key!r} maps to {name!r}, which {type(module).__name__} does not have")
        else:
            converted[name] = value.reshape(ours[name].shape).to(ours[name].dtype)
    for name, value in ours.items():  # not in the original's state: kernel_sampling_rate_norm is a constructor argument
        if name.endswith("kernel_scale") and name not in converted:
            converted[name] = value
    return converted


def check_dropped_buffers(state: Mapping[str, torch.Tensor], module: nn.Module) -> None:
    """The original's ``mask_threshold`` buffers must agree with our masks' thresholds."""
    names = original_to_ours(state)
    for key, value in state.items():
        if key.rsplit(".", 1)[-1] != "mask_threshold":
            continue
        mask = module.get_submodule(names[key[: -len("mask_threshold")] + "mask_params"])
        value = torch.as_tensor(value).reshape(-1)[0]
        expected = torch.tensor(mask.threshold, dtype=value.dtype)  # float32 checkpoints hold float32(0.1)
        if value != expected:
            raise ValueError(f"{key}={float(value)} differs from the config's mask_threshold {mask.threshold}")


def build_from_original(config: Mapping[str, Any]) -> nn.Module:
    """Our (unloaded) module for an original layer, layer-stack or model config."""
    if "model" in config:
        model = FlexNet(flexnet_config_from_original(config))
        _apply_original_extras(model, {"kernel_sampling_rate_norm": config["kernel"].get("sampling_rate_norm", 1.0)})
        return model
    if "layers" in config:
        return nn.Sequential(*(layer_from_original(c) for c in config["layers"]))
    if "layer" in config:
        return layer_from_original(config)
    raise ValueError("config must have a 'layer', 'layers' or 'model' entry (see flexconv.compat)")


def _state_dtype(state: Mapping[str, torch.Tensor]) -> torch.dtype:
    """The dtype of the state's floating-point tensors (the default dtype if they disagree)."""
    dtypes = {v.dtype for v in state.values() if v.is_floating_point()}
    return dtypes.pop() if len(dtypes) == 1 else torch.get_default_dtype()


def from_original(config: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> nn.Module:
    """Build our module from the original config and load the original state dict (strictly).

    The module gets the dtype of the state's floating-point tensors (float32 for the original's
    checkpoints, float64 for the reference files).
    """
    state = {k: torch.as_tensor(v) for k, v in state.items()}
    module = build_from_original(config).to(_state_dtype(state))
    module.load_state_dict(convert_state_dict(state, module), strict=True)
    check_dropped_buffers(state, module)
    return module


def antialiasing_from_original(config: Mapping[str, Any]) -> AntiAliasing:
    """The regulariser of an original run (``horizon``, ``factor``, ``target``, ``fn``, ``method``, ``gauss_stddevs``).

    Accepts the keys of the original's ``regularize_params`` section or of the reference files.
    """
    return AntiAliasing(
        factor=config["factor"],
        target=config["target"],
        method=config["method"],
        fn=config["fn"],
        gauss_stddevs=config["gauss_stddevs"],
        horizon=int(config["horizon"]) if config.get("horizon") else None,
    )


def _antialias_from_run(kernel: Mapping[str, Any]) -> dict[str, Any] | None:
    """AntiAliasing fields for an original ``kernel`` section (None when ``regularize`` is off)."""
    if not kernel.get("regularize", False):
        return None
    params = kernel["regularize_params"]
    if params.get("res_offset", 0):
        raise ValueError("kernel.regularize_params.res_offset != 0 is not supported")
    return {
        "factor": params["factor"],
        "target": params["target"],
        "method": params["method"],
        "fn": params["fn"],
        "gauss_stddevs": params["gauss_stddevs"],
        "horizon": int(params["res"]) or None,
    }


_SCHEDULERS = {"": "none", "cosine": "cosine", "plateau": "plateau"}


def _optim_from_run(train: Mapping[str, Any]) -> dict[str, Any]:
    """OptimConfig fields for an original ``train`` section (Adam; its weight_decay is a loss term)."""
    if train.get("optimizer", "Adam") != "Adam":
        raise ValueError(f"only the original's Adam runs are supported, got train.optimizer={train['optimizer']!r}")
    for name in ("mask_l2_norm", "magnitude_reg", "grad_clip"):
        if train.get(name, 0.0):
            raise ValueError(f"train.{name}={train[name]} is not supported (the paper's runs leave it 0)")
    scheduler = train.get("scheduler", "") or ""
    if scheduler not in _SCHEDULERS:
        raise ValueError(f"train.scheduler {scheduler!r} is not supported; known: {sorted(_SCHEDULERS)}")
    optim: dict[str, Any] = {
        "optimizer": "adam",
        "lr": train["lr"],
        "weight_decay": 0.0,
        "kernel_norm_decay": train.get("weight_decay", 0.0),
        "scheduler": _SCHEDULERS[scheduler],
    }
    params = train.get("scheduler_params", {})
    if scheduler == "cosine":
        optim["warmup_epochs"] = max(0, params.get("warmup_epochs", 0))
    if scheduler == "plateau":
        optim.update(factor=1.0 / params["decay_factor"], patience=params["patience"])
    return optim


def module_from_original(config: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> TaskModule:
    """The training module of ``flexconv train`` for an original run config, loaded with ``state``.

    ``config``: an original model config (``model``, ``in_channels``, ``out_channels``, ``net``,
    ``kernel``, ``conv``, ``mask``) plus the original's ``train`` section; ``kernel.regularize`` and
    ``kernel.regularize_params`` switch on the anti-aliasing term. ``state``: the original state dict.
    The module's model is the registered ``flexnet`` with the translated configuration, in the
    state's dtype; ``train.weight_decay`` becomes ``optim.kernel_norm_decay`` (the original adds
    ``weight_decay * sum(||kernel||_2 + ||bias||_2)`` to the loss and uses no optimiser decay) and
    ``train.mask_params_lr_factor`` the masks' learning-rate hint. ``module.training_loss(x, y)`` is
    the original's total loss of a step, ``module.configure_optimizers()`` its optimiser (a
    constant-lr run returns the optimiser itself). Unsupported original options raise ValueError.
    """
    from flexconv.models.registry import config_dict  # the training side imports lightning: load it only here
    from flexconv.train.module import TaskModule

    train, kernel = config["train"], config["kernel"]
    if config["net"].get("dropout_in", 0.0):
        raise ValueError("net.dropout_in > 0 (dropout on the inputs) is not supported")
    model = flexnet_config_from_original(config)
    if model.conv.mask is not None:
        model.conv.mask["lr_factor"] = float(train.get("mask_params_lr_factor", 1.0))
    if (
        model.conv.kernel_net is not None
        and model.conv.kernel_net.get("learn_omega_0")
        and train.get("omega_0_lr_factor", 1.0) != 1.0
    ):
        raise ValueError("a learnable omega_0 with train.omega_0_lr_factor != 1 is not supported")
    module = TaskModule(
        "flexnet", config_dict(model), optim=_optim_from_run(train), antialias=_antialias_from_run(kernel)
    )
    state = {k: torch.as_tensor(v) for k, v in state.items()}
    module.to(_state_dtype(state))
    _apply_original_extras(module.model, {"kernel_sampling_rate_norm": kernel.get("sampling_rate_norm", 1.0)})
    module.model.load_state_dict(convert_state_dict(state, module.model), strict=True)
    check_dropped_buffers(state, module.model)
    return module
