import re
from pathlib import Path

import pytest
import torch

import flexconv
from flexconv.models.conv_config import ConvConfig, nest_flat_conv_config
from flexconv.models.registry import get_model, list_models, model_config, model_function
from flexconv.nn import SIREN, GaussianMask, MAGNet


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "name, params",
    [("flexnet7_cifar10", 671_650), ("resnet32_cifar10", 464_154), ("resnet44_cifar10", 658_586), ("resnet110_cifar10", 1_727_962)],
)
def test_paper_parameter_counts(name: str, params: int) -> None:
    assert count(get_model(name)) == params


def test_small_offline_models_are_small() -> None:
    assert count(get_model("flexnet_fashion_mnist")) <= 100_000
    flex, conv = count(get_model("flexnet_fashion_mnist", hidden_channels=16)), count(get_model("flexnet_fashion_mnist_conv3"))
    assert 0.5 < conv / flex < 2.0


@pytest.mark.parametrize("name", [n for n in list_models() if "conv33" not in n])
def test_every_model_runs_forward_and_backward(name: str) -> None:
    """Tiny versions of each registered model (same family, widths shrunk)."""
    config = model_config(name)
    shrink = ({"hidden_channels": 4, "num_blocks": 1, "block_width_factors": []} if hasattr(config, "hidden_channels")
              else {"depth": 8} if hasattr(config, "depth") else {})  # torchvision's ResNet-18: as it is
    if hasattr(config, "conv") and config.conv.kernel_net is not None:
        shrink["conv"] = {"kernel_net": {"hidden_channels": 4}, "horizon": 9}
    model = get_model(name, **shrink)
    shape = (2, config.in_channels, 12, 12) if config.data_dim == 2 else (2, config.in_channels, 20)
    out = model(torch.randn(shape))
    assert out.shape == (2, config.num_classes)
    out.sum().backward()


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown model 'nope'.*flexnet7_cifar10"):
        get_model("nope")
    with pytest.raises(ValueError, match="unknown flexnet7_cifar10.conv option 'horizn'.*horizon"):
        get_model("flexnet7_cifar10", conv={"horizn": 9})


def test_every_variant_is_a_python_definition() -> None:
    """Each built-in name is written out in flexconv/models/variants.py (a grep finds it), not generated."""
    source = Path(flexconv.__file__).parent.joinpath("models", "variants.py").read_text()
    built_in = [name for name in list_models() if model_function(name).__module__ == "flexconv.models.variants"]
    assert len(built_in) >= 38
    for name in built_in:
        assert re.search(rf"^def {name}\(\)", source, flags=re.M), name


# -- nested kernel network and mask ---------------------------------------------------------------
def test_kernel_net_and_mask_take_their_constructor_arguments() -> None:
    conv = model_config("cktcn_smnist").conv
    assert conv.kernel_net == {"name": "SIREN", "hidden_channels": 32, "num_layers": 3, "omega_0": 31.09, "learn_omega_0": False}
    assert conv.mask is None
    model = get_model("flexnet_fashion_mnist", conv={"kernel_net": {"steerable": True}, "mask": {"init_width": 0.2}})
    layer = model.stem[0]
    assert isinstance(layer.kernel_net, MAGNet) and layer.kernel_net.filters[0].theta is not None
    assert isinstance(layer.mask, GaussianMask) and float(layer.mask.width[0].detach()) == pytest.approx(0.2)
    assert layer.kernel_net.hidden[0].in_features == 16  # the variant's own width is kept


def test_another_kernel_net_name_starts_from_its_defaults() -> None:
    model = get_model("flexnet_fashion_mnist", conv={"kernel_net": {"name": "SIREN", "omega_0": 10.0}})
    net = model.stem[0].kernel_net
    assert isinstance(net, SIREN) and float(net.layers[0].omega_0) == 10.0 and net.output.in_features == 32


@pytest.mark.parametrize(
    "conv, message",
    [
        ({"kernel_net": {"hiden_channels": 4}}, r"unknown kernel_net option 'hiden_channels' of MAGNet; known: \[.*'hidden_channels'"),
        ({"kernel_net": {"name": "SIREN", "steerable": True}}, r"unknown kernel_net option 'steerable' of SIREN; known: .*'omega_0'"),
        ({"kernel_net": {"name": "Magnet"}}, r"unknown kernel network 'Magnet'; known: \[.*'MAGNet'"),
        ({"mask": {"width": 0.1}}, r"unknown mask option 'width' of GaussianMask; known: .*'init_width'"),
        ({"mask": {"causal": True}}, r"unknown mask option 'causal'"),  # the layer's own
        ({"type": "Conv"}, r"'Conv' \(a plain convolution\) takes no kernel_net or mask"),
        ({"type": "CKConv"}, r"'CKConv' has no mask"),
    ],
)
def test_bad_nested_options_fail_naming_the_known_ones(conv: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_model("flexnet_fashion_mnist", conv=conv)


def test_stored_flat_conv_configs_are_nested() -> None:
    flat = {"type": "FlexConv", "horizon": 33, "kernel_net": "Gabor", "kernel_hidden_channels": 16, "kernel_num_layers": 2,
            "kernel_options": {"input_scale": 12.8}, "mask_init_width": 0.1, "mask_threshold": 0.2,
            "mask_dynamic_cropping": False, "mask_lr_factor": 1.0, "conv_method": "auto", "separable": False,
            "causal": None, "kernel_size": 3, "bias": True}
    nested = ConvConfig(**nest_flat_conv_config(flat))
    assert nested.kernel_net == {"name": "GaborNet", "hidden_channels": 16, "num_layers": 2, "input_scale": 12.8,
                                 "alpha": 6.0, "beta": 1.0}
    assert nested.mask == {"name": "GaussianMask", "init_width": 0.1, "init_mean": None, "threshold": 0.2,
                           "dynamic_cropping": False, "lr_factor": 1.0, "crop_margin": 0, "min_taps": 3}
    ck = nest_flat_conv_config({**flat, "type": "CKConv", "kernel_net": "SIREN", "kernel_options": {"omega_0": 30.0}})
    assert ck["mask"] is None and ck["kernel_net"]["omega_0"] == 30.0
    assert nest_flat_conv_config(nest_flat_conv_config(flat)) == nest_flat_conv_config(flat)
