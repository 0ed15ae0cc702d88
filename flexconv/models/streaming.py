"""Streaming counterparts of the FlexNet modules, for :func:`flexconv.nn.stream`.

Residual blocks and the channel LayerNorm act step by step around their convolutions, so they
stream as they are (:class:`~flexconv.nn.stream.TimeLocal`, :class:`~flexconv.nn.stream.Pointwise`).
A sequence FlexNet streams its features and applies its head at *every* step:

* ``head="last"``: output at step t = head(features at t), which is ``model(x[..., :t + 1])``;
  the last streamed output equals ``model(x)`` on the whole sequence.
* ``head="pool"``: output at step t = head(mean of the features at steps 0..t), a running mean
  (a float64 running sum of (B, C) and a step count are kept); at the last step it equals ``model(x)``.

Plain causal convolutions (the ``type="Conv"`` baselines, :class:`~flexconv.nn.plain.PaddedConv`)
stream through flexconv.nn.stream itself.
"""

from __future__ import annotations

from typing import cast

import torch

from flexconv.models.flexnet import ChannelLayerNorm, FlexNet, ResidualBlock
from flexconv.nn.stream import Pointwise, StreamLayer, TimeLocal, register_stream


class FlexNetStream(StreamLayer):
    """A 1D FlexNet on a stream: (B, in_channels, n) -> per-step logits (B, num_classes, n)."""

    def __init__(self, model: FlexNet, path: str = "") -> None:
        if model.config.data_dim != 1:
            raise ValueError(
                f"stream(): streaming runs sequence models; this FlexNet has data_dim={model.config.data_dim}"
            )
        self.body = TimeLocal(model, path, children=("stem", "blocks"))
        self.head = model.head
        self.pool = model.config.head == "pool"
        self.total: torch.Tensor | None = None  # (B, C) float64: sum of the features so far ("pool")
        self.count = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = cast(FlexNet, self.body.clone).features(x)  # (B, C, n); the clone is a copy of the FlexNet
        if self.pool:
            summed = features.double().cumsum(-1)  # (B, C, n), in float64: streams can be long
            if self.total is not None:
                summed = summed + self.total.unsqueeze(-1)
            self.total = summed[..., -1].clone()
            steps = torch.arange(self.count + 1, self.count + x.shape[-1] + 1, device=x.device, dtype=summed.dtype)
            self.count += x.shape[-1]
            features = (summed / steps).to(features.dtype)  # running mean
        return self.head(features.transpose(1, 2)).transpose(1, 2)  # (B, num_classes, n)

    def reset(self) -> None:
        self.body.reset()
        self.total, self.count = None, 0

    def state(self) -> list[torch.Tensor]:
        return self.body.state() + ([] if self.total is None else [self.total])


register_stream(FlexNet, FlexNetStream)
register_stream(ResidualBlock, TimeLocal)
register_stream(ChannelLayerNorm, Pointwise)
