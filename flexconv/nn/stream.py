"""Streaming inference: run a causal sequence model on consecutive chunks of one long input.

``stream(model)`` returns a :class:`Stream`. Call it on consecutive chunks ``(B, C, n)`` (any
``n >= 1``) of a sequence and it returns the outputs of those ``n`` steps, ``(B, K, n)``: the
same values ``model`` gives on the whole sequence so far (up to float rounding). Each call costs
and stores an amount bounded by the layers' (cropped) kernel lengths, not by the stream's length.

Every module type has a *streaming counterpart* (a :class:`StreamLayer`), looked up by exact type
in a registry (:func:`register_stream`); the counterpart tree mirrors the module tree:

* causal 1D :class:`CKConv` / :class:`FlexConv` -> :class:`RollingConv`: keeps the last
  ``k - 1`` inputs (``k``: the cropped kernel length) and convolves them with the new chunk
  without padding, so step ``t`` sees exactly the inputs ``t - k + 1 .. t`` the full causal
  convolution sees (zeros before the stream's start).
* causal :class:`~flexconv.nn.plain.PaddedConv` (plain 1D convolutions after ``k - 1`` zeros on the
  left: the ``type="Conv"`` baselines, exported causal layers) -> :class:`RollingConv` as well.
* modules that act on each time step alone (activations, dropout, BatchNorm with running
  statistics, 1x1 ``Conv1d``, ``Identity``) -> :class:`Pointwise`: applied to the chunk as is.
* containers whose own ``forward`` only combines its children step by step (``nn.Sequential``,
  residual blocks) -> :class:`TimeLocal`: that ``forward`` runs on the chunk with every child
  replaced by its counterpart.
* model classes with a head over time register their own counterpart (flexconv.models does so
  for FlexNet: the head is applied at every step).

Unknown module types, non-causal or N-D layers and kernels whose grid is not fixed yet raise
``ValueError`` naming the module. Models must be in eval mode (``Stream`` raises otherwise
instead of switching modes itself: in training mode BatchNorm and dropout make the per-step
outputs differ from ``model(x)``, and changing a model's mode behind the caller's back would
leak into their training loop). Streams run without gradients.

Counterparts are modules, so a step compiles: :meth:`Stream.compile` runs every chunk's computation
through ``torch.compile(fullgraph=True)`` while the checks and the step count stay eager. The
kernels are read eagerly when the stream is made (and at :meth:`Stream.reset`), so the graph holds
the convolutions only; it compiles once for the first chunk (no past yet) and once for the chunks
after it, per chunk shape. Its state is tensors that each step replaces (no host reads, no Python
numbers that change per step), as CUDA graphs need.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from flexconv.nn.ckconv import CKConv, FlexConv
from flexconv.nn.dropout import Dropout, ReLUDropout
from flexconv.nn.plain import PaddedConv


def _where(path: str) -> str:
    return f"module {path!r}" if path else "the model"


class StreamLayer(nn.Module):
    """Streaming counterpart of one module: ``forward`` maps consecutive chunks ``(B, C, n) -> (B, K, n)``.

    A module (sharing the parameters of the one it streams), so that ``torch.compile`` traces it as one.
    Calling it runs ``forward`` directly, without ``nn.Module``'s hooks: a single step is a few small
    operations, and the hook checks of every call made eager single steps about 20 % slower.
    """

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.forward(x)
        return out

    def _keep(self, **attributes: Any) -> None:
        """Set attributes read at every step outside the module's registries: ``nn.Module``'s lookup of
        registered parameters and submodules made eager single steps about 10 % slower. They are the
        streamed model's own, which that model registers."""
        self.__dict__.update(attributes)

    def reset(self) -> None:
        """Forget the past: the next chunk starts a new stream."""

    def state(self) -> list[torch.Tensor]:
        """The tensors kept between calls (their size is the stream's memory)."""
        return []


# (module, path) -> its counterpart; Any: each factory takes its own module type
StreamFactory = Callable[[Any, str], StreamLayer]
_FACTORIES: dict[type, StreamFactory] = {}


def register_stream(module_type: type, factory: StreamFactory) -> None:
    """Use ``factory(module, path) -> StreamLayer`` for modules of exactly ``module_type``.

    Exact types, not subclasses: a subclass may change ``forward``, so it must be registered
    itself. ``path`` is the module's name in the model, for error messages.
    """
    _FACTORIES[module_type] = factory


def stream_module(module: nn.Module, path: str = "") -> StreamLayer:
    """The streaming counterpart of ``module`` (named ``path`` in its model)."""
    factory = _FACTORIES.get(type(module))
    if factory is None:
        raise ValueError(
            f"stream(): {_where(path)} is a {type(module).__name__}, which has no streaming counterpart; "
            f"streamable types: {sorted(t.__name__ for t in _FACTORIES)} "
            "(flexconv.nn.register_stream adds one)"
        )
    return factory(module, path)


class Pointwise(StreamLayer):
    """A module whose output at step t depends on the input at step t only: applied as is."""

    module: nn.Module

    def __init__(self, module: nn.Module, path: str = "") -> None:
        super().__init__()
        self._keep(module=module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.module(x)
        return out


def _pointwise_conv1d(conv: nn.Conv1d, path: str) -> StreamLayer:
    if conv.kernel_size != (1,) or conv.stride != (1,) or conv.padding not in ((0,), "valid", "same"):
        raise ValueError(
            f"stream(): {_where(path)} is a Conv1d with kernel_size={conv.kernel_size}, stride={conv.stride}, "
            f"padding={conv.padding}; only 1x1 Conv1d (kernel 1, stride 1, no padding) can be streamed"
        )
    return Pointwise(conv)


def _pointwise_batchnorm(norm: nn.BatchNorm1d, path: str) -> StreamLayer:
    if norm.running_mean is None:
        raise ValueError(
            f"stream(): {_where(path)} is a BatchNorm1d without running statistics "
            "(track_running_stats=False): it normalises over the time axis even in eval mode"
        )
    return Pointwise(norm)


class TimeLocal(StreamLayer):
    """A container whose own ``forward`` combines its children's outputs step by step.

    ``clone`` is a shallow copy of the module whose children are the counterparts, so the
    module's own ``forward`` (and its other methods) run on chunks unchanged; the model itself
    is not modified. ``children``: the names of the children to stream (default: all); the
    others are absent from ``clone``, and a method that reads them fails loudly. Each child has
    one counterpart, so a stateful child (a convolution) must be called once per ``forward``.
    """

    clone: Any  # a copy of the streamed module: its type, and so its methods, are the caller's

    def __init__(self, module: nn.Module, path: str = "", children: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        named = dict(module.named_children())
        names = list(named) if children is None else list(children)
        self.parts = {name: stream_module(named[name], f"{path}.{name}" if path else name) for name in names}
        clone = copy.copy(module)
        clone.__dict__["_modules"] = dict(self.parts)
        self._keep(clone=clone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.clone.forward(x)
        return out

    def reset(self) -> None:
        for part in self.parts.values():
            part.reset()

    def state(self) -> list[torch.Tensor]:
        return [t for part in self.parts.values() for t in part.state()]


class RollingConv(StreamLayer):
    """A causal 1D convolution on a stream: a rolling buffer of the last ``k - 1`` inputs.

    ``kernel()`` gives the kernel (C_out, C_in / groups, k), ``bias`` (C_out) or None;
    ``pointwise`` (C_out, C_in), if given, is a 1x1 mixing after a depthwise kernel (then the
    bias follows it). Per chunk of n steps: the window ``[buffer, chunk]`` (B, C_in, k - 1 + n),
    an unpadded convolution of it (B, C_out, n), and the window's last ``k - 1`` steps kept for
    the next chunk: cost per step O(k C_in C_out / groups), memory B C_in (k - 1). A single
    step is one matrix product (``F.conv1d`` costs ~100x more there for long kernels). The
    kernel is read (without gradients) at creation and at :meth:`reset`, and kept: after changing
    the weights, call :meth:`reset`.
    """

    bias: Optional[torch.Tensor]
    pointwise: Optional[torch.Tensor]

    def __init__(
        self,
        kernel: Callable[[], torch.Tensor],
        bias: Optional[torch.Tensor],
        in_channels: int,
        *,
        groups: int = 1,
        pointwise: Optional[torch.Tensor] = None,
        path: str = "",
    ) -> None:
        super().__init__()
        self.make_kernel = kernel
        self._keep(bias=bias, pointwise=pointwise)
        self.in_channels = in_channels
        self.groups = groups
        self.path = path
        self.kernel = self._read_kernel()  # (C_out, C_in / groups, k)
        self.buffer: Optional[torch.Tensor] = None  # (B, C_in, k - 1): the last k - 1 inputs

    def _read_kernel(self) -> torch.Tensor:
        with torch.no_grad():
            return self.make_kernel().detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"stream(): {_where(self.path)} expects {self.in_channels} channels, got chunk shape {tuple(x.shape)}"
            )
        if x.dtype != self.kernel.dtype:
            raise ValueError(
                f"stream(): {_where(self.path)} has {self.kernel.dtype} weights, got a {x.dtype} chunk; "
                "convert the model or the input"
            )
        past = self.kernel.shape[-1] - 1
        if self.buffer is None:
            self.buffer = x.new_zeros(x.shape[0], x.shape[1], past)
        elif self.buffer.shape[0] != x.shape[0]:
            raise ValueError(
                f"stream(): {_where(self.path)} got a chunk of batch size {x.shape[0]} in a stream of batch "
                f"size {self.buffer.shape[0]}; call reset() to start a new stream"
            )
        window = torch.cat([self.buffer, x], dim=-1)  # (B, C_in, k - 1 + n)
        self.buffer = window[..., x.shape[-1] :].clone()  # a copy: the window itself is not kept
        if self.pointwise is None:
            return _unpadded_conv(window, self.kernel, self.bias, self.groups)
        out = _unpadded_conv(window, self.kernel, None, self.groups)  # (B, C_in, n)
        return _unpadded_conv(out, self.pointwise.unsqueeze(-1), self.bias)

    def reset(self) -> None:
        self.kernel = self._read_kernel()
        self.buffer = None

    def state(self) -> list[torch.Tensor]:
        return [] if self.buffer is None else [self.buffer]


def _unpadded_conv(
    window: torch.Tensor, kernel: torch.Tensor, bias: Optional[torch.Tensor], groups: int = 1
) -> torch.Tensor:
    """window (B, C_in, k - 1 + n), kernel (C_out, C_in / groups, k) -> (B, C_out, n), no padding."""
    if window.shape[-1] != kernel.shape[-1] or groups not in (1, window.shape[1]):  # several steps
        return F.conv1d(window, kernel, bias, groups=groups)
    if groups == 1:  # one step: (B, C_in * k) @ (C_in * k, C_out)
        out = window.flatten(1) @ kernel.flatten(1).T
    else:  # one step, depthwise: kernel (C_in, 1, k)
        out = (window * kernel.squeeze(1)).sum(-1)
    return (out if bias is None else out + bias).unsqueeze(-1)


def _ckconv_stream(layer: CKConv, path: str) -> RollingConv:
    """A causal 1D CKConv/FlexConv: its effective (cropped) kernel, cached by the layer in eval mode."""
    if layer.data_dim != 1 or not layer.causal:
        raise ValueError(
            f"stream(): {_where(path)} is a {type(layer).__name__} with data_dim={layer.data_dim}, "
            f"causal={layer.causal}; only causal 1D layers can run on a stream (a centred kernel reads future steps)"
        )
    if layer.uses_conv_arguments:
        raise ValueError(
            f"stream(): {_where(path)} has stride={layer.stride}, padding={layer.padding!r}, "
            f"dilation={layer.dilation}, groups={layer.groups}; only the causal 'same' convolution with stride, "
            "dilation and groups 1 runs on a stream"
        )
    try:
        layer.grid_sizes()
    except RuntimeError as err:
        raise ValueError(
            f"stream(): {_where(path)} has no kernel grid yet ({err}); run the model once on a "
            "full-length input, or call set_grid_size(), before streaming"
        ) from None
    if layer.separable:
        return RollingConv(
            layer.kernel, layer.bias, layer.in_channels, groups=layer.in_channels, pointwise=layer.pointwise, path=path
        )
    return RollingConv(layer.kernel, layer.bias, layer.in_channels, path=path)


def _padded_conv_stream(module: PaddedConv, path: str) -> RollingConv:
    """A plain Conv1d after ``k - 1`` zeros on the left (stride 1, no dilation) on a stream."""
    pad, conv = module
    if not (
        isinstance(pad, nn.ConstantPad1d)
        and isinstance(conv, nn.Conv1d)
        and pad.padding == (conv.kernel_size[0] - 1, 0)
        and pad.value == 0.0
        and conv.stride == (1,)
        and conv.dilation == (1,)
        and conv.padding == (0,)
    ):
        raise ValueError(
            f"stream(): {_where(path)} is a {pad} then {conv}; only causal 1D convolutions "
            "(k - 1 zeros on the left, stride 1, dilation 1) can run on a stream"
        )
    weight, bias = conv.weight, conv.bias
    return RollingConv(lambda: weight, bias, conv.in_channels, groups=conv.groups, path=path)


class Stream:
    """What :func:`stream` returns: call it on consecutive chunks; ``reset()`` starts over.

    ``model``: the module (eval mode). ``steps``: time steps consumed since the last reset.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._all_modules = list(model.modules())
        self._check_eval()
        self.root = stream_module(model)
        self._step: Callable[[torch.Tensor], torch.Tensor] = self.root
        self.steps = 0

    def _check_eval(self) -> None:
        if any(m.training for m in self._all_modules):
            name = next(n for n, m in self.model.named_modules() if m.training)
            raise ValueError(
                f"stream(): {_where(name)} is in training mode; streaming needs eval mode (BatchNorm's "
                "batch statistics and dropout would make streamed outputs differ from model(x)): call model.eval()"
            )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: the next chunk (B, C, n), n >= 1 -> the outputs of its n steps (B, K, n)."""
        if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x) or x.dim() != 3 or x.shape[-1] < 1:
            raise ValueError(
                "stream(): a chunk is a floating-point tensor (batch, channels, steps) with steps >= 1, got "
                + (f"dtype {x.dtype}, shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__)
            )
        self._check_eval()
        with torch.no_grad():
            out = self._step(x)
        self.steps += x.shape[-1]
        return out

    def compile(self, **options: Any) -> None:
        """Run each chunk's computation under ``torch.compile(fullgraph=True, **options)`` from now on (the
        checks and ``steps`` stay eager). E.g. ``options = {"mode": "reduce-overhead"}`` for CUDA graphs."""
        self._step = torch.compile(self.root, **{"fullgraph": True, **options})

    def reset(self) -> None:
        """Forget the past: the next chunk starts a new stream (zeros before it, as in ``model(x)``); the
        kernels are read again from the model's current weights."""
        self.root.reset()
        self.steps = 0

    def state_numel(self) -> int:
        """Number of elements kept between calls (bounded by the kernel lengths, not by ``steps``)."""
        return sum(t.numel() for t in self.root.state())


def stream(model: nn.Module) -> Stream:
    """Streaming inference for ``model`` (eval mode): see the module docstring.

    Example: ``s = stream(model.eval()); outs = [s(chunk) for chunk in x.split(7, dim=-1)]``;
    ``torch.cat(outs, -1)`` holds every step's output, the last one equal to ``model(x)`` for
    models whose head reads the last step.
    """
    return Stream(model)


register_stream(CKConv, _ckconv_stream)
register_stream(FlexConv, _ckconv_stream)
for _type in (
    nn.Identity,
    nn.ReLU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.LeakyReLU,
    nn.ELU,
    nn.Dropout,
    nn.Dropout1d,
    Dropout,
    ReLUDropout,
):
    register_stream(_type, Pointwise)
register_stream(PaddedConv, _padded_conv_stream)
register_stream(nn.Conv1d, _pointwise_conv1d)
register_stream(nn.BatchNorm1d, _pointwise_batchnorm)
register_stream(nn.Sequential, TimeLocal)
