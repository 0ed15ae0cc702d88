import pytest
import torch

from flexconv.models.registry import get_model, list_models, model_config


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
    flex, conv = count(get_model("flexnet_fashion_mnist")), count(get_model("cnn_fashion_mnist_conv3"))
    assert 0.5 < conv / flex < 2.0


@pytest.mark.parametrize("name", [n for n in list_models() if "conv33" not in n])
def test_every_model_runs_forward_and_backward(name: str) -> None:
    """Tiny versions of each registered model (same family, widths shrunk)."""
    config = model_config(name)
    shrink = {"hidden_channels": 4, "num_blocks": 1, "block_width_factors": []} if hasattr(config, "hidden_channels") else {"depth": 8}
    if hasattr(config, "conv"):
        shrink["conv"] = {"kernel_hidden_channels": 4, "horizon": 9}
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
