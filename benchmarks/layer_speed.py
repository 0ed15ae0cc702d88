"""Speed of FlexConv layers and of a FlexNet-7-sized network on this CPU.

    .venv/bin/python benchmarks/layer_speed.py [--repeats 3] [--out benchmarks/out]

Prints tables and writes ``<out>/layer_speed.json`` and the ``layers`` block of ``docs/benchmarks.md``.
Measured (median of ``--repeats`` after one warm-up, 2 threads):

1. A 24->24 FlexConv on a batch 64x24x32x32, horizon 33: forward and forward+backward at the initial
   mask (5x5 kernel) and with a full 33x33 kernel, for the spatial, FFT and automatic paths, and the
   share of the time spent making the kernel.
2. FlexNet-7 (671,650 parameters; 15 FlexConvs, widths 24-48): an Adam training step on 64 images at
   the initial masks and with every mask covering the full 33x33 kernel, against the same model with the
   plain ``torch.fft`` convolution (``sequence_speed.plain_fft_conv``; interleaved, minimum), and the
   step's peak memory for both (each in a fresh process); inference of 64 images with cached kernels,
   after ``export`` to plain convolutions, and the same network written with plain ``nn.Conv2d`` of the
   same kernel sizes.

3. Spatial vs FFT forward over kernel sizes: the data behind ``FFT_COST_FACTOR`` (the automatic rule).

The original code's figures on the same 2-core machine (shared/spec.md, Sec. 10) are printed beside.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from flexconv.malloc import keep_freed_memory

keep_freed_memory()  # as the flexconv command does: before torch allocates anything

# Imported after keep_freed_memory() on purpose (it must run before torch allocates), hence the noqa: E402.
import torch  # noqa: E402
from page import min_times, peak_memory_mib, write_block  # noqa: E402
from sequence_speed import fft_implementation  # noqa: E402
from torch import nn  # noqa: E402

import flexconv.nn as fnn  # noqa: E402
from flexconv.models.registry import get_model  # noqa: E402

ORIGINAL = {
    "layer_full_fwd": 0.64,
    "layer_full_fwd_bwd": 2.18,
    "layer_init_fwd": 0.04,
    "net_init_train_step": 1.06,
    "net_full_train_step": 73.4,
    "net_full_inference": 22.0,
    "net_init_inference": 0.28,
    "net_full_train_step_mib": 1050,
    "before_net_full_train_step_mib": 1943,  # issue 13
}
FULL_WIDTH = 10.0  # mask width so large that nothing is cropped: the full 33x33 grid


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def conv_backward(
    conv: Callable[..., torch.Tensor], x: torch.Tensor, kernel: torch.Tensor, causal: bool, grad: torch.Tensor
) -> Callable[[], None]:
    """One forward and backward pass of ``conv`` on these tensors, as a function to time."""
    return lambda: conv(x, kernel, causal=causal).backward(grad)


def widen_masks(model: nn.Module, width: float) -> None:
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, fnn.FlexConv):
                layer.mask.width.fill_(width)


def layer_rows(repeats: int) -> list[dict]:
    x = torch.randn(64, 24, 32, 32)
    x_grad = x.clone().requires_grad_(True)
    rows = []
    for mask, width in (("initial (5x5)", None), ("full (33x33)", FULL_WIDTH)):
        for method in ("spatial", "fft", "auto"):
            torch.manual_seed(0)
            layer = fnn.FlexConv(24, 24, data_dim=2, horizon=33, conv_method=method)
            if width is not None:
                widen_masks(layer, width)
            forward = median_time(partial(layer, x), repeats)
            backward = median_time(lambda layer=layer: layer(x_grad).sum().backward(), repeats)
            kernel = median_time(layer.make_kernel, repeats)
            rows.append(
                {
                    "mask": mask,
                    "method": method,
                    "kernel": "x".join(map(str, layer.effective_kernel_size())),
                    "forward_s": forward,
                    "forward_backward_s": backward,
                    "kernel_share": kernel / forward,
                }
            )
            print(
                f"layer  {mask:14s} {method:8s} fwd {forward:.4f}s  fwd+bwd {backward:.4f}s  kernel "
                f"{kernel / forward:5.1%}"
            )
    return rows


def conv_path_rows(repeats: int) -> list[dict]:
    """Spatial vs FFT forward+backward over kernel sizes: the data behind FFT_COST_FACTOR in functional.py."""
    from flexconv.nn import functional as Fc

    cases = [((64, 24, 32, 32), 24, k, False) for k in (3, 5, 9, 17, 33)] + [
        ((64, 48, 32, 32), 48, k, False) for k in (3, 5)
    ]
    cases += [((64, 30, 784), 30, k, True) for k in (4, 8, 16, 33, 129, 785)] + [((16, 32, 1460), 32, 8, True)]
    rows = []
    for shape, c_out, k, causal in cases:
        x = torch.randn(*shape, requires_grad=True)
        kernel = torch.randn(c_out, shape[1], *([k] * (len(shape) - 2)), requires_grad=True)
        grad = torch.randn(shape[0], c_out, *shape[2:])
        times = min_times(
            {
                "spatial": conv_backward(Fc.spatial_conv, x, kernel, causal, grad),
                "fft": conv_backward(Fc.fft_conv, x, kernel, causal, grad),
            },
            repeats,
        )
        spatial, fft = times["spatial"], times["fft"]
        auto = "fft" if Fc.prefer_fft(x.shape, kernel.shape, causal) else "spatial"
        rows.append(
            {
                "input": "x".join(map(str, shape)),
                "kernel": k,
                "causal": causal,
                "spatial_s": spatial,
                "fft_s": fft,
                "faster": "fft" if fft < spatial else "spatial",
                "auto": auto,
            }
        )
        print(f"conv   {rows[-1]['input']:12s} k={k:<4d} spatial {spatial:.4f}s  fft {fft:.4f}s  auto picks {auto}")
    return rows


def flexnet7() -> nn.Module:
    """The registered FlexNet-7 of the paper's CIFAR-10 table (671,650 parameters), seeded."""
    torch.manual_seed(0)
    return get_model("flexnet7")


def plain_twin(model: nn.Module) -> nn.Module:
    """The same network with plain nn.Conv2d layers of the (cropped) kernel sizes of ``model``."""
    twin = fnn.export(model)
    for module in twin.modules():  # fresh weights: a network written by hand, not exported
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_uniform_(module.weight)
    return twin


def flexnet7_step(full_masks: bool) -> tuple[nn.Module, Callable[[], None]]:
    """FlexNet-7 and one Adam training step on 64 CIFAR-sized images."""
    model = flexnet7()
    if full_masks:
        widen_masks(model, FULL_WIDTH)
    optimizer = torch.optim.Adam(fnn.param_groups(model, lr=0.01))
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))

    def train_step() -> None:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    with torch.no_grad():
        model(x[:1])  # fixes the grids
    model.train()
    return model, train_step


def step_memory_in_subprocess(full_masks: bool, impl: str, threads: int) -> float:
    """Peak memory (MiB) of one FlexNet-7 training step above the built model, in a fresh process."""
    args = [sys.executable, __file__, "--child", str(int(full_masks)), impl, "--threads", str(threads)]
    return float(subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])


def network_rows(repeats: int, threads: int) -> list[dict]:
    x = torch.randn(64, 3, 32, 32)
    rows = []
    for mask, width in (("initial", None), ("full (33x33)", FULL_WIDTH)):
        model, train_step = flexnet7_step(width is not None)
        steps = {}
        for impl in ("ours", "plain"):

            def run(impl: str = impl, train_step: Callable[[], None] = train_step) -> None:
                with fft_implementation(impl):
                    train_step()

            steps[impl] = run
        times = min_times(steps, max(1, repeats - 1) if width else repeats)
        step, plain_step = times["ours"], times["plain"]
        memory = {impl: step_memory_in_subprocess(width is not None, impl, threads) for impl in ("ours", "plain")}
        model.eval()
        exported, twin = fnn.export(model), plain_twin(model)
        with torch.no_grad():
            cached = median_time(partial(model, x), repeats)
            exported_time = median_time(partial(exported, x), max(1, repeats - 2) if width else repeats)
            plain = median_time(partial(twin, x), max(1, repeats - 2) if width else repeats)
        rows.append(
            {
                "masks": mask,
                "params": sum(p.numel() for p in model.parameters()),
                "train_step_s": step,
                "train_step_plain_fft_s": plain_step,
                "train_step_mib": memory["ours"],
                "train_step_plain_fft_mib": memory["plain"],
                "inference_cached_s": cached,
                "inference_exported_s": exported_time,
                "inference_plain_conv_s": plain,
            }
        )
        print(
            f"flexnet7 {mask:13s} train step {step:.3f}s (plain fft {plain_step:.3f}s)  memory {memory}  "
            f"inference cached {cached:.3f}s  exported {exported_time:.3f}s  plain convs {plain:.3f}s"
        )
    return rows


def markdown(layers: list[dict], networks: list[dict], paths: list[dict], command: str) -> str:
    lines = [
        f"Machine: {torch.get_num_threads()} CPU threads ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}, float32, load average {os.getloadavg()[0]:.1f} when written. Command: "
        f"`{command}`.",
        "Medians after a warm-up (FlexNet-7 training steps: minimum of rounds alternating ours and plain torch.fft); "
        "the machine is shared, so figures vary by ~20 % (more under load: see the load note of the sequence block).",
        "The original code's figures were measured on the same kind of 2-core machine (shared/spec.md, Sec. 10).",
        "",
        "## Layer and network speed",
        "",
        "A 24→24 FlexConv, batch 64×24×32×32, horizon 33:",
        "",
        "| mask | path | kernel | forward (s) | forward+backward (s) | making the kernel (share of forward) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in layers:
        lines.append(
            f"| {r['mask']} | {r['method']} | {r['kernel']} | {r['forward_s']:.4f} | "
            f"{r['forward_backward_s']:.4f} | {r['kernel_share']:.1%} |"
        )
    lines += [
        "",
        f"Original code: full 33×33 kernel forward {ORIGINAL['layer_full_fwd']} s, forward+backward "
        f"{ORIGINAL['layer_full_fwd_bwd']} s; initial 5×5 kernel forward {ORIGINAL['layer_init_fwd']} s.",
        "",
        "FlexNet-7 (batch of 64 CIFAR-sized images):",
        "",
        "| masks | parameters | training step (s) | step, plain torch.fft (s) | step memory (MiB) | step memory, "
        "plain torch.fft (MiB) | inference, cached kernels (s) | inference, exported (s) | same net with plain "
        "nn.Conv2d (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in networks:
        lines.append(
            f"| {r['masks']} | {r['params']:,} | {r['train_step_s']:.3f} | {r['train_step_plain_fft_s']:.3f} | "
            f"{r['train_step_mib']:,.0f} | {r['train_step_plain_fft_mib']:,.0f} | {r['inference_cached_s']:.3f} | "
            f"{r['inference_exported_s']:.3f} | {r['inference_plain_conv_s']:.3f} |"
        )
    lines += [
        "",
        f"Original code: training step {ORIGINAL['net_init_train_step']} s at the initial masks and "
        f"{ORIGINAL['net_full_train_step']} s with full masks; inference {ORIGINAL['net_init_inference']} s at the "
        f"initial masks and about {ORIGINAL['net_full_inference']} s with full masks. Training-step memory (peak "
        f"resident memory above the built model, measured earlier): original "
        f"+{ORIGINAL['net_full_train_step_mib']:,} MiB, flexconv before this FFT path "
        f'+{ORIGINAL["before_net_full_train_step_mib"]:,} MiB, with full masks. "plain torch.fft": the '
        "same model with the textbook FFT convolution (rfftn, einsum, irfftn, autograd through them), which flexconv "
        "used before, timed alternately with ours in the same process (minimum of the rounds).",
        "",
        "Exported models are plain spatial convolutions (portable: ONNX, `torch.compile`), so with large kernels they "
        "run at plain-convolution speed; cached inference keeps the automatic FFT path and is the fast choice there.",
        "",
        "## Convolution paths: the automatic rule",
        "",
        '`conv(method="auto")` takes the FFT path when `FFT_COST_FACTOR * fft_flops < spatial_flops` '
        f"(`flexconv/nn/functional.py`, `prefer_fft`; FFT_COST_FACTOR = {fnn.functional.FFT_COST_FACTOR:g}). "
        "The factor is the ratio of the two paths' effective FLOP rates, read off this sweep (forward+backward, as in "
        "training; same channels in and out; minimum of interleaved runs):",
        "",
        "| input | kernel | spatial, forward+backward (s) | FFT, forward+backward (s) | faster | auto picks |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in paths:
        lines.append(
            f"| {r['input']}{' (causal)' if r['causal'] else ''} | {r['kernel']} | {r['spatial_s']:.4f} | "
            f"{r['fft_s']:.4f} | {r['faster']} | {r['auto']} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--child", nargs=2, metavar=("FULL_MASKS", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:  # subprocess mode: print one training step's peak memory
        _, train_step = flexnet7_step(bool(int(args.child[0])))
        with fft_implementation(args.child[1]):
            print(peak_memory_mib(train_step))
        return
    paths = conv_path_rows(args.repeats)
    layers = layer_rows(args.repeats)
    networks = network_rows(args.repeats, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "layer_speed.json").write_text(
        json.dumps({"conv_paths": paths, "layer": layers, "flexnet7": networks, "original": ORIGINAL}, indent=2)
    )
    command = f".venv/bin/python benchmarks/layer_speed.py --repeats {args.repeats} --threads {args.threads}"
    write_block(args.docs, "layers", markdown(layers, networks, paths, command))
    print(f"wrote {args.out / 'layer_speed.json'} and the layers block of {args.docs}")


if __name__ == "__main__":
    main()
