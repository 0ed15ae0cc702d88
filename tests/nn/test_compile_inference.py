"""Inference under torch.compile: eval mode with the cached-kernel path, streaming, a compiled run's checkpoint; and
what CUDA graphs need (fullgraph, no host reads in the captured graphs, static shapes within a crop bucket)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch._dynamo
from test_stream import flextcn, per_step_reference, rel_error
from torch import fx, nn
from torch._dynamo.backends.common import aot_autograd

from flexconv.models.flexnet import FlexNet
from flexconv.nn import CKConv, FlexConv, GaussianMask, MAGNet, StaticCrops, stream


class Recorder:
    """A torch.compile backend: AOTAutograd (as ``aot_eager``) that keeps every captured ATen graph, forward
    and backward, and counts compilations (``frames``)."""

    def __init__(self) -> None:
        self.frames = 0
        self.graphs: list[fx.GraphModule] = []
        self._aot = aot_autograd(fw_compiler=self._keep, bw_compiler=self._keep)

    def _keep(self, graph: fx.GraphModule, inputs: list[torch.Tensor]) -> fx.GraphModule:
        self.graphs.append(graph)
        return graph

    def __call__(self, graph: fx.GraphModule, inputs: list[torch.Tensor]):
        self.frames += 1
        return self._aot(graph, inputs)

    def host_reads(self) -> list[str]:
        """Nodes of the captured graphs that copy a device value to the host (what CUDA graphs cannot capture)."""
        return [
            str(node.target)
            for graph in self.graphs
            for node in graph.graph.nodes
            if "_local_scalar_dense" in str(node.target)
            or (node.op == "call_method" and node.target in ("item", "tolist"))
        ]


@pytest.fixture(autouse=True)
def _one_thread_fresh_dynamo():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(capture_scalar_outputs=False):
        yield
    torch.set_num_threads(threads)


def kernel_layer(kind: str) -> tuple[CKConv, torch.Tensor]:
    """A masked layer whose mask keeps part of its grid (so the crop matters), its grid fixed."""
    torch.manual_seed(0)
    kernel_net = functools.partial(MAGNet, hidden_channels=8, num_layers=2)
    mask = functools.partial(GaussianMask, init_width=0.4)
    layer: CKConv
    shape: tuple[int, ...]
    if kind == "flexconv_1d_causal":
        layer, shape = FlexConv(3, 4, data_dim=1, horizon=33, kernel_net=kernel_net, mask=mask), (2, 3, 40)
    elif kind == "flexconv_2d":
        layer, shape = FlexConv(3, 4, data_dim=2, horizon=9, kernel_net=kernel_net, mask=mask), (2, 3, 12, 12)
    else:  # an unmasked CKConv, separable
        layer, shape = CKConv(3, 4, data_dim=2, horizon=7, separable=True, kernel_net=kernel_net), (2, 3, 10, 10)
    return layer, torch.randn(*shape)


def compiled_eval_follows_weights(kind: str, backend) -> None:
    layer, x = kernel_layer(kind)
    model = nn.Sequential(layer, nn.GELU()).eval()
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    with torch.no_grad():
        before = model(x)  # eager: fills the layer's kernel cache
        assert layer._cache is not None
        assert torch.allclose(compiled(x), before, rtol=1e-5, atol=1e-6)
        next(layer.kernel_net.parameters()).mul_(1.5)  # an in-place weight change
        out = compiled(x)  # first, while the eager cache still holds the old kernel
        after = model(x)  # eager: the cache sees the new version
        assert not torch.allclose(after, before, rtol=1e-3, atol=1e-4)
        assert torch.allclose(out, after, rtol=1e-5, atol=1e-6)  # no stale kernel in the graph


@pytest.mark.parametrize("kind", ["flexconv_1d_causal", "flexconv_2d", "ckconv_2d_separable"])
def test_compiled_eval_equals_eager_cached_kernel_and_follows_weight_changes(kind: str) -> None:
    recorder = Recorder()
    compiled_eval_follows_weights(kind, recorder)
    assert recorder.frames == 1  # the weight change does not recompile: the weights are the graph's inputs
    assert recorder.host_reads() == []


@pytest.mark.slow
def test_compiled_eval_with_inductor() -> None:
    """Inductor's generated code (minutes to build on a small CPU) gives the eager cached-kernel outputs."""
    compiled_eval_follows_weights("flexconv_1d_causal", "inductor")


def streaming_model(head: str) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """test_stream's FlexTCN (kernels of 3 to 250 taps, a CKConv), its input and its per-step outputs."""
    torch.manual_seed(7)
    model = flextcn(head)
    x = torch.randn(2, 2, 250)
    with torch.no_grad():
        reference = per_step_reference(model, x)  # also fixes the grids
    return model, x, reference


@pytest.mark.parametrize("head", ["last", "pool"])
def test_compiled_stream_equals_eager_stream_and_full_forward(head: str) -> None:
    model, x, reference = streaming_model(head)
    steps = 60
    eager = stream(model)
    expected = torch.cat([eager(x[..., t : t + 1]) for t in range(steps)], dim=-1)
    s = stream(model)
    recorder = Recorder()
    s.compile(backend=recorder)
    outs = []
    for t in range(steps):
        outs.append(s(x[..., t : t + 1]))
        if t == 2:
            frames = recorder.frames
    out = torch.cat(outs, dim=-1)
    assert frames <= 3 and recorder.frames == frames  # the first step, the steps after it: no compile per step
    assert torch.allclose(out, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
    assert rel_error(out, reference[..., :steps]) < 1e-4
    assert s.steps == steps
    assert recorder.host_reads() == []
    s.reset()  # a new stream reuses the first step's graph
    assert torch.allclose(s(x[..., :1]), expected[..., :1], rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
    assert recorder.frames == frames


def test_compiled_stream_follows_reset_after_a_weight_change() -> None:
    model, x, _ = streaming_model("last")
    s = stream(model)
    s.compile(backend="aot_eager")
    first = s(x[..., :1])
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, CKConv) and layer.bias is not None:
                layer.bias.add_(1.0)
        expected = model(x[..., :1])
    s.reset()  # reads the kernels again
    again = s(x[..., :1])
    assert not torch.allclose(again, first)
    assert rel_error(again[..., 0], expected) < 1e-5


# -- CUDA-graph readiness: the compiled training step -----------------------------------------------------------


def training_net() -> nn.Module:
    """Two causal FlexConvs of 33 taps whose masks start narrow (crop buckets well below the grid)."""
    torch.manual_seed(1)
    kernel_net = functools.partial(MAGNet, hidden_channels=4, num_layers=1)
    net = nn.Sequential(
        FlexConv(2, 4, data_dim=1, horizon=33, kernel_net=kernel_net, conv_method="spatial"),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        FlexConv(4, 3, data_dim=1, horizon=33, kernel_net=kernel_net, conv_method="fft"),
    )
    set_widths(net, 0.2)
    return net


def set_widths(net: nn.Module, width: float) -> None:
    for layer in net.modules():
        if isinstance(layer, FlexConv) and layer.mask is not None:
            layer.mask.width.data.fill_(width)


def training_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(net(x)[..., -1], y)


def test_compiled_training_step_has_no_host_reads_and_static_shapes_within_a_bucket() -> None:
    net = training_net()
    x, y = torch.randn(4, 2, 33), torch.tensor([0, 1, 2, 0])
    net(x)
    crops = StaticCrops(net)
    recorder = Recorder()
    loss_of = torch.compile(training_loss, fullgraph=True, backend=recorder)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)

    def step() -> bool:
        changed = crops.refresh()
        optimizer.zero_grad()
        loss_of(net, x, y).backward()
        optimizer.step()
        return changed

    step()
    assert recorder.frames == 1 and len(recorder.graphs) == 2  # forward and backward
    first = [layer._crop_sizes for layer in crops.layers]
    for width in (0.21, 0.22, 0.23):  # wider masks, inside the same crop bucket
        set_widths(net, width)
        assert not step()
        assert [layer._crop_sizes for layer in crops.layers] == first
    assert recorder.frames == 1
    set_widths(net, 0.6)  # past the bucket: one recompile (the counter can see it)
    assert step()
    assert recorder.frames == 2
    assert recorder.host_reads() == []


def test_the_recorder_sees_host_reads() -> None:
    """The scan above can fail: a value read back to the host (here a size) is traced as ``_local_scalar_dense``
    even with capture_scalar_outputs=False, and fullgraph does not stop it."""

    def with_host_read(x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(int(x.sum().item()))

    recorder = Recorder()
    torch.compile(with_host_read, fullgraph=True, backend=recorder)(torch.ones(3))
    assert recorder.host_reads() == ["aten._local_scalar_dense.default"]


# -- a compiled `flexconv train ... compile=true` run's checkpoint --------------------------------------------------


def _train_conftest() -> ModuleType:
    """tests/train/conftest.py (its tiny_overrides: the settings tests/train/test_compiled_training.py uses)."""
    path = Path(__file__).parents[1] / "train" / "conftest.py"
    spec = importlib.util.spec_from_file_location("train_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_compiled_runs_checkpoint_streams_compiles_and_exports(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("lightning")
    pytest.importorskip("hydra")
    tiny_overrides = _train_conftest().tiny_overrides
    from flexconv.train.checkpoints import evaluation_module
    from flexconv.train.commands import train
    from flexconv.train.config import compose_config
    from flexconv.train.export_command import export_checkpoint

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    run_dir = tmp_path / "run"
    # the main job's FlexTCN made causal, so that it streams
    train(compose_config(tiny_overrides(run_dir, "compile=true", "model.conv.causal=true")))
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    model = evaluation_module(checkpoint).model.eval()
    assert isinstance(model, FlexNet)
    x = torch.randn(2, model.config.in_channels, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        reference = per_step_reference(model, x)
    eager = stream(model)
    expected = torch.cat([eager(part) for part in x.split(5, dim=-1)], dim=-1)
    assert rel_error(expected, reference) < 1e-4
    compiled = stream(model)
    compiled.compile(backend="aot_eager")
    out = torch.cat([compiled(part) for part in x.split(5, dim=-1)], dim=-1)
    assert rel_error(out, expected) < 1e-5
    results = export_checkpoint(checkpoint)
    assert results["max_abs_diff"] < 1e-4 * max(results["scale"], 1.0)
