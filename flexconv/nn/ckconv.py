"""Continuous-kernel convolutions: CKConv and FlexConv, for any number of spatial axes.

CKConv (Romero et al., ICLR 2022, arXiv 2102.02611): the kernel is a small network (the
*kernel network*) evaluated on a grid of relative positions in [-1, 1]^D, so any kernel size
costs the same parameters. FlexConv (Romero, Bruintjes et al., ICLR 2022, arXiv 2110.08059)
multiplies that kernel by a learnable Gaussian mask whose width is the kernel size, and crops
the grid where the mask is negligible.

Data flow of one forward (each step is its own module or function)::

    grid size (fixed at first use, stored in the state dict)
      -> positions (D, *K)            flexconv.nn.grid
      -> cropped by the mask window   flexconv.nn.mask.GaussianMask.crop_window
      -> kernel network               flexconv.nn.kernels   (out*in, *K') or (in, *K') if separable
      -> * kernel_scale * mask        effective kernel (out, in, *K')
      -> convolution                  flexconv.nn.functional.conv (spatial / FFT / auto)

1D layers are causal by default (sequences); 2D/3D layers are centred ("same" padding).

``nn.Conv``'s arguments (``stride``, ``padding``, ``dilation``, ``groups``, ``padding_mode``) mean what
they mean there for a kernel of ``grid_size`` taps; cropping never changes the output
(:mod:`flexconv.nn.conv_args`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import torch
from torch import nn
from torch.types import Device

from flexconv.nn import conv_args as Ca
from flexconv.nn import functional as Fc
from flexconv.nn.grid import Horizon, relative_positions, resolve_grid_size, validate_horizon
from flexconv.nn.kernels import MAGNet, kernel_net_class
from flexconv.nn.kernels.base import KernelNet
from flexconv.nn.layer_input import check_input, compute_dtype
from flexconv.nn.mask import GaussianMask, mask_class

# A class, a functools.partial of one, or a registered name ("MAGNet", "GaussianMask").
KernelNetFactory = Union[str, Callable[..., KernelNet]]
MaskFactory = Union[str, Callable[..., GaussianMask]]

# FlexConv initialises the kernel network in a region 1.667x wider than the mask (paper code).
SPATIAL_EXTENT_PER_WIDTH = 1.667


def _factory(
    factory: Union[str, Callable[..., Any]], lookup: Callable[[str], Callable[..., Any]], what: str
) -> Callable[..., Any]:
    """A factory given as a registered name is looked up; anything else must be callable."""
    if isinstance(factory, str):
        return lookup(factory)
    if not callable(factory):
        raise TypeError(f"{what} must be a class, a functools.partial of one or a registered name, got {factory!r}")
    return factory


class CKConv(nn.Module):
    """Continuous kernel convolution (no mask).

    Args:
        in_channels, out_channels: as in ``nn.Conv2d``.
        data_dim: number of spatial axes (1 for sequences, 2 for images, 3 for volumes).
        horizon: kernel grid size: an odd int, one odd int per axis, ``"same"`` (the input's
            last-axis length) or ``"full"`` (2x that - 1). Fixed at the first forward and
            stored in the ``grid_size`` buffer, so a trained layer keeps its grid.
        kernel_net: factory ``(data_dim, out_channels, device=, dtype=) -> KernelNet``, e.g.
            ``MAGNet`` or ``functools.partial(SIREN, omega_0=30.0)``, or a registered name
            (``flexconv.nn.kernels.KERNEL_NETS``: "MAGNet", "GaborNet", "SIREN", ...).
        causal: causal padding (the output at t sees inputs <= t); default ``data_dim == 1``.
        separable: depthwise continuous kernel (one per input channel) then a 1x1 mixing, as in
            the CCNN follow-up (Knigge, Romero et al. 2023): kernel-net outputs drop from
            ``out*in`` to ``in``.
        bias: learnable bias per output channel (initialised to 0).
        conv_method: ``"auto"``, ``"spatial"`` or ``"fft"`` (see flexconv.nn.functional).
        kernel_scale: multiplies the kernel; the resolution change of
            :func:`flexconv.nn.change_resolution` sets it to (source/target)^D.
        mask: factory of the mask module ``(data_dim, causal=, device=, dtype=)``, a registered
            name (``flexconv.nn.mask.MASKS``: "GaussianMask") or None.
        stride, dilation: as in ``nn.Conv2d``, for a kernel of ``grid_size`` taps (see the module
            docstring). A strided layer always convolves with torch's direct strided convolution.
        padding: ``"same"`` (default: centred, ``d (n - 1) // 2`` on the left and the rest on the right;
            causal layers: ``d (n - 1)`` on the left only), ``"valid"`` (none) or an int / one int per
            axis, on both sides (centred layers only: a causal layer's padding is "same" or "valid").
            With a stride, "same" pads as at stride 1, so the output has ``ceil(S / stride)`` steps
            (where ``nn.Conv2d`` refuses "same").
        groups: as in ``nn.Conv2d`` (grouped, or depthwise with ``groups = in_channels``): kernel-net
            outputs drop to ``out * in / groups``. Not with ``separable``.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``, as in
            ``nn.Conv2d``; causal layers pad with zeros only.

    Input and parameters must share a dtype, as for ``nn.Conv2d``; under ``torch.autocast`` the
    layer computes in the autocast dtype instead (float64 is never cast, as by autocast).
    """

    grid_size: torch.Tensor  # buffers, registered in __init__
    kernel_scale: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        data_dim: int = 2,
        horizon: Horizon = 33,
        kernel_net: KernelNetFactory = MAGNet,
        causal: Optional[bool] = None,
        separable: bool = False,
        bias: bool = True,
        conv_method: Fc.ConvMethod = "auto",
        kernel_scale: float = 1.0,
        mask: Optional[MaskFactory] = None,
        stride: Union[int, Sequence[int]] = 1,
        padding: Ca.Padding = "same",
        dilation: Union[int, Sequence[int]] = 1,
        groups: int = 1,
        padding_mode: Ca.PaddingMode = "zeros",
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be >= 1, got in_channels={in_channels}, out_channels={out_channels}")
        if data_dim < 1:
            raise ValueError(f"data_dim must be >= 1, got {data_dim}")
        if conv_method not in ("auto", "spatial", "fft"):
            raise ValueError(f"conv_method must be 'auto', 'spatial' or 'fft', got {conv_method!r}")
        explicit_grid = validate_horizon(horizon, data_dim)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.data_dim = data_dim
        self.horizon = horizon
        self.causal = data_dim == 1 if causal is None else causal
        self.separable = separable
        self.conv_method = conv_method
        self._set_conv_arguments(stride, padding, dilation, groups, padding_mode)

        kernel_net = _factory(kernel_net, kernel_net_class, "kernel_net")
        mask = _factory(mask, mask_class, "mask") if mask is not None else None

        kernel_outputs = in_channels if separable else out_channels * in_channels // groups
        self.kernel_net: KernelNet = kernel_net(data_dim, kernel_outputs, **factory)
        self.mask: Optional[GaussianMask] = mask(data_dim, causal=self.causal, **factory) if mask is not None else None
        if self.mask is not None:
            if explicit_grid:
                self.mask.fit_to_grid(explicit_grid)
            extent = SPATIAL_EXTENT_PER_WIDTH * float(self.mask.width.detach().max())
            self.kernel_net.init_spatial_extent(min(1.0, extent))
        if separable:
            self.pointwise = nn.Parameter(torch.empty(out_channels, in_channels, **factory))
            nn.init.kaiming_uniform_(self.pointwise, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels, **factory)) if bias else None
        # Grid size per axis; zeros until fixed by the first forward ("same"/"full").
        self.register_buffer("grid_size", torch.tensor(explicit_grid or (0,) * data_dim, dtype=torch.long))
        # Multiplies the kernel; persistent, because change_resolution() sets it with the grid size.
        self.register_buffer("kernel_scale", torch.tensor(float(kernel_scale), **factory))
        self._grid: Optional[tuple[int, ...]] = explicit_grid or None
        self._positions: dict[tuple[Any, ...], tuple[torch.Tensor, list[torch.Tensor]]] = {}
        self._cache: Optional[tuple[Any, torch.Tensor]] = None
        # Static cropping (see make_kernel): taps per axis of the static crop; None = the whole grid.
        self.static_crop = False
        self._crop_sizes: Optional[tuple[int, ...]] = None
        self._kernel_record: Optional[dict[CKConv, torch.Tensor]] = None  # see recording_kernels()

    def _set_conv_arguments(
        self,
        stride: Union[int, Sequence[int]],
        padding: Ca.Padding,
        dilation: Union[int, Sequence[int]],
        groups: int,
        padding_mode: Ca.PaddingMode,
    ) -> None:
        """Check and store ``nn.Conv``'s arguments (see the class docstring)."""
        name = type(self).__name__
        self.stride = Ca.per_axis(stride, "stride", self.data_dim, 1)
        self.dilation = Ca.per_axis(dilation, "dilation", self.data_dim, 1)
        self.padding = Ca.check_padding(padding, padding_mode, self.data_dim, self.causal, name)
        self.padding_mode = padding_mode
        self.groups = Ca.check_groups(groups, self.in_channels, self.out_channels, self.separable, name)
        # False for the paper's convolution ("same" zero padding, stride and dilation 1, no groups: the
        # functional.conv path), True when any argument differs (the conv_args.conv_padded path).
        self.uses_conv_arguments = not (
            padding == "same"
            and padding_mode == "zeros"
            and groups == 1
            and self.stride == self.dilation == (1,) * self.data_dim
        )

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, data_dim={self.data_dim}, horizon={self.horizon!r}, "
            f"causal={self.causal}, separable={self.separable}, conv_method={self.conv_method!r}"
        )
        ones = (1,) * self.data_dim
        for name, value, default in (
            ("stride", self.stride, ones),
            ("padding", self.padding, "same"),
            ("dilation", self.dilation, ones),
            ("groups", self.groups, 1),
            ("padding_mode", self.padding_mode, "zeros"),
        ):
            text += f", {name}={value!r}" if value != default else ""
        return text

    def padding_amounts(self, kernel_size: Sequence[int]) -> list[tuple[int, int]]:
        """(left, right) padding per axis for a cropped kernel of ``kernel_size`` taps
        (:func:`~flexconv.nn.conv_args.crop_padding`)."""
        return Ca.crop_padding(self.grid_sizes(), kernel_size, self.padding, self.dilation, self.causal)

    def output_size(self, input_size: Sequence[int]) -> tuple[int, ...]:
        """Output steps per axis for an input of ``input_size`` (its spatial axes), as ``nn.ConvNd``'s."""
        grid = self.grid_sizes()
        return Ca.output_size(input_size, self.padding_amounts(grid), grid, self.dilation, self.stride)

    # -- grid ---------------------------------------------------------------------------------
    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._grid = None  # re-read from the loaded buffer
        self._cache = None
        self._crop_sizes = None

    def grid_sizes(self, input_shape: Optional[torch.Size] = None) -> tuple[int, ...]:
        """Kernel grid size per axis; fixes it from ``input_shape`` on first use.

        Without ``input_shape``, a grid that no input has fixed yet (``horizon="same"``/``"full"``)
        raises RuntimeError: this is the one check that export, resolution change and streaming use.
        """
        if self._grid is None:
            if torch.compiler.is_compiling():
                raise RuntimeError(
                    f"{type(self).__name__}: the kernel grid must be known before torch.compile traces the layer "
                    "(reading it back would break the graph): run one eager forward first, or call "
                    "flexconv.nn.StaticCrops(model).refresh()"
                )
            stored = tuple(int(n) for n in self.grid_size.tolist())
            if all(n > 0 for n in stored):
                self._grid = stored
            elif input_shape is None:
                raise RuntimeError(
                    f"{type(self).__name__} with horizon {self.horizon!r} has no grid yet: its grid is fixed by the "
                    "first input; run one forward first (or call set_grid_size())"
                )
            else:
                sizes = resolve_grid_size(self.horizon, input_shape, self.data_dim)
                self.set_grid_size(sizes)
                if self.mask is not None:
                    self.mask.fit_to_grid(sizes)
        assert self._grid is not None  # set by the branches above
        return self._grid

    def set_grid_size(self, sizes: tuple[int, ...]) -> None:
        """Re-sample the kernel on a grid of ``sizes`` taps per axis (kept in the state dict)."""
        if len(sizes) != self.data_dim or any(n < 1 for n in sizes):
            raise ValueError(f"grid size needs {self.data_dim} positive entries, got {sizes}")
        self.grid_size.copy_(torch.tensor(sizes, dtype=torch.long))
        self._grid = tuple(int(n) for n in sizes)
        self._cache = None
        self._crop_sizes = None

    def _grid_positions(self, sizes: tuple[int, ...], like: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Positions (D, *sizes) on ``like``'s device/dtype and per-axis CPU vectors for cropping."""
        key = (sizes, like.device, like.dtype)
        if key not in self._positions:
            axes = [torch.linspace(-1.0, 1.0, n, dtype=like.dtype) for n in sizes]
            self._positions = {key: (relative_positions(sizes, device=like.device, dtype=like.dtype), axes)}
        return self._positions[key]

    # -- kernel -------------------------------------------------------------------------------
    def _reference_param(self) -> torch.Tensor:
        return next(self.kernel_net.parameters())

    def kernel_positions(self, input_shape: Optional[torch.Size] = None) -> torch.Tensor:
        """The (cropped) positions the kernel is sampled on: (D, *K)."""
        positions, axes = self._grid_positions(self.grid_sizes(input_shape), self._reference_param())
        if self.mask is not None:
            window = self.mask.crop_window(axes)
            index: tuple[slice, ...] = (slice(None), *window)
            positions = positions[index]
        return positions

    def set_crop_sizes(self, sizes: Optional[tuple[int, ...]]) -> None:
        """Taps per axis of the static crop (None: the whole grid); see :meth:`make_kernel`.

        Each size must have the grid's parity on a centred axis (the crop stays centred) and contain the
        exact window: :class:`flexconv.nn.StaticCrops` chooses them so.
        """
        if sizes is not None:
            grid = self.grid_sizes()
            if len(sizes) != self.data_dim or any(
                not 1 <= k <= n or (not self.causal and (n - k) % 2) for k, n in zip(sizes, grid)
            ):
                raise ValueError(f"static crop sizes {sizes} do not fit the grid {grid} (causal={self.causal})")
            sizes = tuple(int(k) for k in sizes)
        self._crop_sizes = sizes

    def static_window(self) -> tuple[slice, ...]:
        """The static crop as slices of the grid: the last taps of a causal axis, the central ones otherwise."""
        grid = self.grid_sizes()
        sizes = self._crop_sizes or grid
        if self.causal:
            return tuple(slice(n - k, n) for k, n in zip(sizes, grid))
        return tuple(slice((n - k) // 2, n - (n - k) // 2) for k, n in zip(sizes, grid))

    def make_kernel(self, input_shape: Optional[torch.Size] = None) -> torch.Tensor:
        """The effective kernel: (out, in, *K) or, if separable, (in, 1, *K). Always recomputed.

        Eagerly the grid is cropped to the mask's exact window (:meth:`GaussianMask.crop_window`, which
        reads the mask back to the host). Under ``torch.compile`` (or with ``static_crop = True``) it is
        cropped to the static sizes of :meth:`set_crop_sizes` instead, Python ints fixed outside the
        graph, and the taps outside the exact window are zeroed by :meth:`GaussianMask.window_weights` on
        the device: the same convolution (zero taps add nothing), shapes that only change when the sizes
        do, and no host read, as CUDA graphs need.
        """
        weights = None
        if self.mask is not None and (self.static_crop or torch.compiler.is_compiling()):
            full, _ = self._grid_positions(self.grid_sizes(input_shape), self._reference_param())  # (D, *N)
            window = self.static_window()
            index: tuple[slice, ...] = (slice(None), *window)
            positions = full[index]  # (D, *K)
            if self.mask.dynamic_cropping:
                axes = [
                    full[d][tuple(slice(None) if a == d else 0 for a in range(self.data_dim))]
                    for d in range(self.data_dim)
                ]
                weights = self.mask.window_weights(axes, window)  # (*K)
        else:
            positions = self.kernel_positions(input_shape)  # (D, *K)
        kernel: torch.Tensor = self.kernel_net(positions) * self.kernel_scale  # (out*in or in, *K)
        if self.mask is not None:
            mask = self.mask(positions)
            kernel = kernel * (mask if weights is None else mask * weights)
        rows = self.in_channels if self.separable else self.out_channels
        return kernel.view(rows, -1, *positions.shape[1:])

    def kernel(self, input_shape: Optional[torch.Size] = None) -> torch.Tensor:
        """The effective kernel, cached in inference (eval mode with gradients off).

        The cache key holds every parameter's storage and version counter, which in-place
        updates (optimiser steps, ``load_state_dict``, ``param.mul_()``) bump, the grid, the mask's
        cropping settings and the autocast dtype. Edits through ``param.data`` bypass version
        counting: call ``make_kernel()`` or leave eval mode after those.
        """
        if torch.compiler.is_compiling():  # the graph computes the kernel; the cache's keys are host reads
            return self.make_kernel(input_shape)
        if self.training or torch.is_grad_enabled():
            self._cache = None
            return self.make_kernel(input_shape)
        device_type = self.kernel_scale.device.type
        key = (
            tuple((t.data_ptr(), t._version) for t in (*self.parameters(), self.kernel_scale)),
            self.grid_sizes(input_shape),
            (self.mask.threshold, self.mask.dynamic_cropping, self.mask.crop_margin) if self.mask is not None else None,
            torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None,
        )
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.make_kernel(input_shape))
        return self._cache[1]

    def effective_kernel_size(self) -> tuple[int, ...]:
        """Kernel taps per axis after cropping (needs the grid to be fixed)."""
        return tuple(self.kernel_positions().shape[1:])

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, in_channels, *S) -> (B, out_channels, *S') (S' = S unless stride, dilation or padding say
        otherwise)."""
        check_input(x, type(self).__name__, self.data_dim, self.in_channels)
        dtype = compute_dtype(x, self._reference_param().dtype, type(self).__name__)
        kernel = self.kernel(x.shape)  # (out, in / groups, *K) or, separable, (in, 1, *K)
        if self._kernel_record is not None:
            self._kernel_record[self] = kernel
        bias: Optional[torch.Tensor] = self.bias
        if dtype is not None:
            x, kernel = x.to(dtype), kernel.to(dtype)
            bias = bias.to(dtype) if bias is not None else None
        # torch's direct convolution handles an empty batch (B = 0); FFT libraries may not.
        method = "spatial" if x.shape[0] == 0 else self.conv_method
        if self.uses_conv_arguments and min(self.output_size(x.shape[2:])) < 1:
            raise ValueError(
                f"{type(self).__name__}: an input of size {tuple(x.shape[2:])} leaves no output for a "
                f"{self.grid_sizes()} grid with padding={self.padding!r}, dilation={self.dilation} (nn.Conv's rule: "
                "the padded input must "
                "be at least dilation * (n - 1) + 1)"
            )
        groups = self.in_channels if self.separable else self.groups
        kernel_bias = None if self.separable else bias  # a separable layer adds it after the 1x1 mixing
        if not self.uses_conv_arguments:
            out = Fc.conv(x, kernel, kernel_bias, causal=self.causal, groups=groups, method=method)
        else:
            out = Ca.conv_padded(
                x,
                kernel,
                kernel_bias,
                pads=self.padding_amounts(kernel.shape[2:]),
                padding_mode=self.padding_mode,
                stride=self.stride,
                dilation=self.dilation,
                groups=groups,
                method=method,
            )
        if not self.separable:
            return out
        pointwise = self.pointwise.view(*self.pointwise.shape, *([1] * self.data_dim))  # (out, in, 1, ..., 1)
        return Fc.spatial_conv(out, pointwise, bias)


class FlexConv(CKConv):
    """CKConv times a learnable Gaussian mask: a convolution with a learned kernel size.

    Same arguments as :class:`CKConv`; ``mask`` defaults to :class:`GaussianMask` (use
    ``functools.partial(GaussianMask, init_width=..., threshold=...)`` to configure it). The
    kernel network is initialised in [-s, s]^D with s = min(1, 1.667 * initial mask width).
    """

    mask: GaussianMask

    def __init__(self, in_channels: int, out_channels: int, *, mask: MaskFactory = GaussianMask, **kwargs: Any) -> None:
        if mask is None:
            raise ValueError("FlexConv needs a mask factory; use CKConv for a convolution without a mask")
        super().__init__(in_channels, out_channels, mask=mask, **kwargs)
