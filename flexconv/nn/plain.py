"""Plain (discrete) convolutions with the continuous layers' padding, for any number of spatial axes.

:func:`nd_class` is the one lookup of torch.nn's 1D/2D/3D classes (``nd_class("Conv", 2)`` is
``nn.Conv2d``). :class:`PaddedConv` gives a plain ``nn.ConvNd`` the zero padding of
:func:`flexconv.nn.functional.padding_amounts` (causal: ``k - 1`` zeros on the left; centred:
``(k - 1) // 2`` on the left, ``k // 2`` on the right), so that the ``type="Conv"`` baselines and
exported layers keep the input's size exactly as the continuous layers do.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.conv import _ConvNd

from flexconv.nn.functional import flat_pad, padding_amounts


def nd_class(kind: str, data_dim: int) -> type[nn.Module]:
    """torch.nn's ``<kind><data_dim>d`` class: ``kind`` "Conv", "BatchNorm", "ConstantPad", ..."""
    if data_dim not in (1, 2, 3):
        raise ValueError(f"torch.nn has {kind} layers for 1 to 3 spatial axes, got data_dim={data_dim}")
    cls: type[nn.Module] = getattr(nn, f"{kind}{data_dim}d")
    return cls


class PaddedConv(nn.Sequential):
    """``conv`` (an unpadded ``nn.ConvNd``) after the continuous layers' zero padding, causal or centred.

    (B, C_in, *S) -> (B, C_out, *S). The padding is a ``nn.ConstantPadNd`` in front (index 0), the
    convolution is index 1, so the state-dict keys are ``1.weight`` and ``1.bias``.
    """

    def __init__(self, conv: _ConvNd, causal: bool) -> None:
        pads = padding_amounts(conv.kernel_size, causal)  # [(left, right)] per axis
        super().__init__(nd_class("ConstantPad", len(pads))(flat_pad(pads), 0.0), conv)
        self.causal = causal
