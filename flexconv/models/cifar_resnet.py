"""CIFAR ResNets of He et al. 2016 (arXiv 1512.03385, Sec. 4.2): the FlexConv paper's baselines.

Depth 6n + 2: a 3x3 stem of 16 channels, three stages of n basic blocks with 16, 32 and 64
channels (the last two start with stride 2), global average pooling and a linear head.
ResNet-32/44/110 (n = 5/7/18) have 0.46M/0.66M/1.7M parameters with option-A shortcuts.

Shortcuts where the shape changes (``shortcut``):
  "A": identity, subsampled by 2 and zero-padded in channels (no parameters; the paper's CIFAR nets)
  "B": 1x1 strided convolution + BatchNorm
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class CifarResNetConfig:
    """Arguments that rebuild a CIFAR ResNet (stored in checkpoints).

    depth: 6n + 2 (20, 32, 44, 56, 110, ...).
    in_channels, num_classes: data channels and classes.
    data_dim: must be 2 (kept so that every model reads the same dataset record fields).
    shortcut: "A" or "B" (see the module docstring).
    base_channels: width of the first stage (16 in the paper); stages are x1, x2, x4.
    """

    depth: int = 32
    in_channels: int = 3
    num_classes: int = 10
    data_dim: int = 2
    shortcut: str = "A"
    base_channels: int = 16


class PadShortcut(nn.Module):
    """Option A: x[:, :, ::2, ::2] zero-padded to ``out_channels``. (B, C, H, W) -> (B, C', H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::2, ::2]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + shortcut, ReLU. (B, C_in, H, W) -> (B, C_out, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "A":
            self.shortcut = PadShortcut(in_channels, out_channels)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 images. x: (B, in_channels, H, W) -> logits (B, num_classes)."""

    def __init__(self, config: CifarResNetConfig) -> None:
        super().__init__()
        if (config.depth - 2) % 6 or config.depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n + 2 (e.g. 32, 44, 110), got {config.depth}")
        if config.shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {config.shortcut!r}")
        if config.data_dim != 2:
            raise ValueError(f"CIFAR ResNets are 2D image models, got data_dim={config.data_dim}")
        self.config = config
        n = (config.depth - 2) // 6
        width = config.base_channels
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        blocks = []
        channels = width
        for stage, factor in enumerate((1, 2, 4)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(channels, width * factor, stride, config.shortcut))
                channels = width * factor
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, config.num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.stem(x))  # (B, 4 * base, H/4, W/4)
        return self.head(out.mean((2, 3)))
