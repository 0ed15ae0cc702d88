"""Streaming counterparts of the FlexNet modules, for :func:`flexconv.nn.stream`.

Residual blocks and the channel LayerNorm act step by step around their convolutions, so they
stream as they are (:class:`~flexconv.nn.stream.TimeLocal`, :class:`~flexconv.nn.stream.Pointwise`).
A sequence FlexNet streams its features and applies its head at *every* step:

* ``head="last"``: output at step t = head(features at t), which is ``model(x[..., :t + 1])``;
  the last streamed output equals ``model(x)`` on the whole sequence.
* ``head="pool"``: output at step t = head(mean of the features at steps 0..t), a running mean
  (a float64 running sum of (B, C) and a step count, both tensors, are kept); at the last step it equals ``model(x)``.

Plain causal convolutions (the ``type="Conv"`` baselines, :class:`~flexconv.nn.plain.PaddedConv`)
stream through flexconv.nn.stream itself.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from flexconv.models.flexnet import ChannelLayerNorm, FlexNet, ResidualBlock
from flexconv.nn.stream import Pointwise, StreamLayer, TimeLocal, register_stream


class FlexNetStream(StreamLayer):
    """A 1D FlexNet on a stream: (B, in_channels, n) -> per-step logits (B, num_classes, n)."""

    body: TimeLocal
    head: nn.Module

    def __init__(self, model: FlexNet, path: str = "") -> None:
        super().__init__()
        if model.config.data_dim != 1:
            raise ValueError(
                f"stream(): streaming runs sequence models; this FlexNet has data_dim={model.config.data_dim}"
            )
        self._keep(body=TimeLocal(model, path, children=("stem", "blocks")), head=model.head)
        self.pool = model.config.head == "pool"
        # "pool": float64 sums of the features so far (B, C) and the number of steps so far (a tensor, not a
        # Python int that would change the compiled graph at every step)
        self.total: torch.Tensor | None = None
        self.count: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = cast(FlexNet, self.body.clone).features(x)  # (B, C, n); the clone is a copy of the FlexNet
        if self.pool:
            summed = features.double().cumsum(-1)  # (B, C, n), in float64: streams can be long
            steps = torch.arange(1, x.shape[-1] + 1, device=x.device, dtype=summed.dtype)  # (n)
            if self.total is not None and self.count is not None:
                summed = summed + self.total.unsqueeze(-1)
                steps = steps + self.count
            self.total, self.count = summed[..., -1].clone(), steps[-1].clone()
            features = (summed / steps).to(features.dtype)  # running mean
        return self.head(features.transpose(1, 2)).transpose(1, 2)  # (B, num_classes, n)

    def reset(self) -> None:
        self.body.reset()
        self.total = self.count = None

    def state(self) -> list[torch.Tensor]:
        return self.body.state() + ([] if self.total is None else [self.total])


register_stream(FlexNet, FlexNetStream)
register_stream(ResidualBlock, TimeLocal)
register_stream(ChannelLayerNorm, Pointwise)
