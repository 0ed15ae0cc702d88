"""torchvision's ResNet-18 for small images, plain or with FlexConv: the drop-in study's networks.

``cifar_stem``: the 7x7 stride-2 convolution and the max pool become one 3x3 stride-1 convolution (as in
the CIFAR ResNets of He et al. 2016), so 28x28 or 32x32 inputs keep their resolution until the first
strided stage. ``flexconv``: keyword arguments of :func:`flexconv.nn.convert` (``{}``: its defaults,
separable FlexConvs on each convolution's own kernel size; None: the plain network).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from torch import nn

from flexconv.nn import convert


@dataclass
class ResNet18Config:
    """Arguments that rebuild the network (stored in checkpoints).

    in_channels, num_classes: data channels and classes.  data_dim: must be 2.
    cifar_stem, flexconv: see the module docstring.
    """

    in_channels: int = 3
    num_classes: int = 10
    data_dim: int = 2
    cifar_stem: bool = True
    flexconv: Optional[dict[str, Any]] = None


def resnet18(config: ResNet18Config) -> nn.Module:
    """The network ``config`` describes: (B, in_channels, H, W) -> (B, num_classes)."""
    from torchvision.models import resnet18 as torchvision_resnet18  # the experiments extra

    if config.data_dim != 2:
        raise ValueError(f"ResNet-18 is a 2D network, got data_dim={config.data_dim}")
    model = torchvision_resnet18(num_classes=config.num_classes)
    if config.cifar_stem:
        model.conv1 = nn.Conv2d(config.in_channels, 64, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif config.in_channels != 3:
        model.conv1 = nn.Conv2d(config.in_channels, 64, 7, stride=2, padding=3, bias=False)
    if config.flexconv is not None:
        convert(model, **config.flexconv)
    return model
