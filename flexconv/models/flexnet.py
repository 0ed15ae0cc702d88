"""FlexNets: residual networks of (continuous) convolutions, for images and sequences.

The FlexConv paper's networks (Romero, Bruintjes et al. 2022, Sec. 4 and App. C): a stem
(conv -> norm -> ReLU), N residual blocks, no pooling or striding anywhere, and a head:
global average pooling + linear for images (``head="pool"``), the last time step + linear for
sequences (``head="last"``).

Blocks (``block``):
  "resnet": conv -> norm -> ReLU -> dropout -> conv -> norm, + shortcut, ReLU
  "tcn":    conv -> norm -> ReLU -> dropout -> conv -> norm -> ReLU -> dropout, + shortcut, ReLU
            (FlexTCN, Bai et al. 2018 blocks; no stem: the first block reads the input)
The shortcut is a 1x1 linear map when the widths differ.
Head initialisation as in the original code: Kaiming-normal for ResNets; for TCNs N(0, 0.01^2)
(a near-zero head: the starting loss is about log(num_classes)); zero bias for both.
``block_width_factors`` ``[f1, n1, f2, n2, ...]``: n1 blocks of width f1 * hidden, then n2 of
f2 * hidden, ... (empty: every block has width ``hidden_channels``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from flexconv.models.conv_config import ConvConfig, ConvFactory, conv_factory
from flexconv.nn import ReLUDropout
from flexconv.nn.dropout import relu
from flexconv.nn.plain import nd_class


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, *S) tensors."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def make_norm(kind: str, channels: int, data_dim: int) -> nn.Module:
    """ "batch" (BatchNormNd) or "layer" (channel LayerNorm)."""
    if kind == "batch":
        return nd_class("BatchNorm", data_dim)(channels)
    if kind == "layer":
        return ChannelLayerNorm(channels)
    raise ValueError(f"norm must be 'batch' or 'layer', got {kind!r}")


def pointwise(in_channels: int, out_channels: int, data_dim: int) -> nn.Module:
    """1x1 convolution (a linear map over channels at every position)."""
    return nd_class("Conv", data_dim)(in_channels, out_channels, kernel_size=1)


def expand_width_factors(block_width_factors: Sequence[float], num_blocks: int) -> list[float]:
    """[f1, n1, f2, n2, ...] -> one width factor per block (empty -> all 1)."""
    if not block_width_factors:
        return [1.0] * num_blocks
    if len(block_width_factors) % 2:
        raise ValueError(f"block_width_factors must be pairs [factor, count, ...], got {list(block_width_factors)}")
    factors = [float(f) for f, n in zip(block_width_factors[::2], block_width_factors[1::2]) for _ in range(int(n))]
    if len(factors) != num_blocks:
        raise ValueError(
            f"block_width_factors {list(block_width_factors)} give {len(factors)} blocks, num_blocks={num_blocks}"
        )
    return factors


class ResidualBlock(nn.Module):
    """One residual block (see the module docstring). x: (B, C_in, *S) -> (B, C_out, *S)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        conv: ConvFactory,
        norm: str,
        data_dim: int,
        dropout: float,
        tcn: bool,
    ) -> None:
        super().__init__()
        self.conv1 = conv(in_channels, out_channels)
        self.norm1 = make_norm(norm, out_channels, data_dim)
        self.conv2 = conv(out_channels, out_channels)
        self.norm2 = make_norm(norm, out_channels, data_dim)
        self.relu_dropout = ReLUDropout(dropout)
        self.tcn = tcn
        self.shortcut = pointwise(in_channels, out_channels, data_dim) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu_dropout(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        if self.tcn:
            out = self.relu_dropout(out)
        return relu(out + self.shortcut(x))


@dataclass
class FlexNetConfig:
    """Arguments that rebuild a FlexNet (stored in checkpoints).

    in_channels, num_classes: data channels and classes (outputs).
    data_dim: 1 (sequences) or 2 (images) or 3.
    hidden_channels, num_blocks, block_width_factors, dropout, norm: see the module docstring.
    block: "resnet" or "tcn".  head: "pool" (global average) or "last" (last time step).
    conv: the convolution used everywhere (:class:`ConvConfig`).
    """

    in_channels: int = 3
    num_classes: int = 10
    data_dim: int = 2
    hidden_channels: int = 24
    num_blocks: int = 7
    block_width_factors: list[float] = field(default_factory=list)
    dropout: float = 0.2
    norm: str = "batch"
    block: str = "resnet"
    head: str = "pool"
    conv: ConvConfig = field(default_factory=ConvConfig)


class FlexNet(nn.Module):
    """Residual network of FlexConvs (or CKConvs, or plain convolutions) for images or sequences.

    x: (B, in_channels, *S) -> logits (B, num_classes).
    """

    def __init__(self, config: FlexNetConfig) -> None:
        super().__init__()
        if config.block not in ("resnet", "tcn"):
            raise ValueError(f"block must be 'resnet' or 'tcn', got {config.block!r}")
        if config.head not in ("pool", "last"):
            raise ValueError(f"head must be 'pool' or 'last', got {config.head!r}")
        self.config = config
        d = config.data_dim
        conv = conv_factory(config.conv, d)
        widths = [
            int(config.hidden_channels * f) for f in expand_width_factors(config.block_width_factors, config.num_blocks)
        ]
        tcn = config.block == "tcn"
        self.stem: nn.Module
        if tcn:
            self.stem = nn.Identity()
            channels = config.in_channels
        else:
            self.stem = nn.Sequential(
                conv(config.in_channels, config.hidden_channels),
                make_norm(config.norm, config.hidden_channels, d),
                nn.ReLU(),
            )
            channels = config.hidden_channels
        blocks = []
        for width in widths:
            blocks.append(ResidualBlock(channels, width, conv, config.norm, d, config.dropout, tcn))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, config.num_classes)
        if tcn:
            nn.init.normal_(self.head.weight, mean=0.0, std=0.01)
        else:
            nn.init.kaiming_normal_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, *S) -> (B, C_last, *S)."""
        if x.dim() != self.config.data_dim + 2 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"FlexNet expects input (batch, {self.config.in_channels}, {self.config.data_dim} spatial axes), "
                f"got shape {tuple(x.shape)}"
            )
        return self.blocks(self.stem(x))

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs at every position: (B, in_channels, T) -> (B, T, num_classes), the head applied to each
        step's features (per-step tasks such as copy memory; see flexconv.train.module.StepwiseModel)."""
        return self.head(self.features(x).movedim(1, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features(x)
        if self.config.head == "pool":
            out = out.flatten(2).mean(-1)  # (B, C)
        else:
            out = out[..., -1]  # (B, C): the last time step
        return self.head(out)
