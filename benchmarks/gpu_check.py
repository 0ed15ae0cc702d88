"""The CUDA paths on a GPU: exactness against the CPU, mixed precision, the training loop, and speed.

    python benchmarks/gpu_check.py [--repeats 10] [--out benchmarks/out] [--docs docs/benchmarks.md]
        [--parts exact,mixed,steps,paths,compile] [--device cpu --quick]

Needs a CUDA GPU (the CPU machines of this project have none: it is run where one is lent). Checks, each
printed and written to ``<out>/gpu_check.json``, and the ``gpu`` block of ``docs/benchmarks.md``:

1. Exactness: FlexConv layers (1D causal, 2D, 3D; spatial and FFT paths; MAGNet kernels) in float64,
   the same weights and input on the CPU and on the GPU: largest difference of the outputs and of every
   gradient (input and parameters), relative to the largest CPU value. Fails above 1e-9.
2. Mixed precision: the Fashion-MNIST FlexNet's forward and backward under ``torch.autocast(bfloat16)``:
   finite, and the logits' largest difference from float32 relative to their largest value.
3. Speed (CUDA-synchronised wall time, minimum over ``--repeats`` interleaved rounds after a warm-up):
   the spatial against the FFT path over kernel sizes (forward+backward; what ``prefer_fft`` picks on the
   GPU, whose ``FFT_COST_FACTOR_CUDA`` comes from this sweep), FlexNet-7 Adam steps (batch 64 at 32x32)
   and FlexTCN-6 Adam steps (sMNIST, batch 64 at 784 steps), each ours against the plain ``torch.fft``
   convolution, at the initial masks and with full-size kernels, in float32 and bfloat16 autocast.
4. Compile (part ``compile``, the ``gpucompile`` block): the same FlexNet-7 and FlexTCN-6 Adam steps at the
   initial masks, eager against ``torch.compile(fullgraph=True)`` (inductor) and ``mode="reduce-overhead"``
   (inductor with CUDA graphs) of the forward and loss, as ``flexconv train compile=true`` runs them (crop
   sizes from :class:`flexconv.nn.StaticCrops` refreshed before each step, the optimiser step eager), in
   float32 and bfloat16 autocast; the seconds of the first three steps (compilation, CUDA-graph recording),
   the steady step and one CIFAR-10 epoch at the paper's recipe estimated as FlexNet-7's step x 782 (50,000
   images, batch 64).

``--parts`` runs some of these (the ``gpu`` block is written when exact, mixed, steps and paths all ran;
``gpucompile`` when compile ran). ``--device cpu --quick`` is a dry run of every part on the CPU (tiny
models and inputs, 2 repeats, the ``aot_eager`` backend for both compiled modes): it checks that the script
runs, and writes its page to ``<out>/gpu_check_dry_run.md`` instead of ``docs/benchmarks.md``.

The training loop on the GPU (device placement, mixed precision, resuming with the CUDA random state) is
checked with the command line, one epoch and then its resumption to two (both ran on an H200)::

    flexconv train experiment=fashion_mnist_flexnet data.limit_train=3200 data.limit_test=640 \
        trainer.limit_val_batches=4 trainer.precision=bf16-mixed run_dir=/tmp/gpu trainer.max_epochs=1
    flexconv train ...the same... trainer.max_epochs=2 resume=/tmp/gpu
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from layer_speed import FULL_WIDTH, conv_backward, widen_masks
from page import min_times, write_block
from sequence_speed import fft_implementation
from torch import nn

import flexconv.nn as fnn
from flexconv.models.registry import get_model
from flexconv.nn import functional as Fc

TOLERANCE = 1e-9
DEVICE = torch.device("cuda")  # --device cpu runs the same code on the CPU (a dry run of the script)
QUICK = False  # --quick: tiny models and inputs
PARTS = ("exact", "mixed", "steps", "paths", "compile")
CIFAR10_STEPS = 782  # one CIFAR-10 epoch: 50,000 images in batches of 64
LAYER_CASES = (  # (name, data_dim, input shape, horizon, causal)
    ("1D causal", 1, (4, 6, 200), 201, True),
    ("2D", 2, (4, 6, 24, 24), 25, False),
    ("3D", 3, (2, 4, 10, 10, 10), 11, False),
)


def synchronise() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def synchronised(fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        fn()
        synchronise()

    return run


def exactness_rows() -> list[dict]:
    """CPU against GPU in float64: relative largest difference of outputs and gradients."""
    rows = []
    for name, data_dim, shape, horizon, causal in LAYER_CASES:
        for method in ("spatial", "fft"):
            torch.manual_seed(0)
            cpu = fnn.FlexConv(
                shape[1], 5, data_dim=data_dim, horizon=horizon, causal=causal, conv_method=method
            ).double()
            with torch.no_grad():
                cpu.mask.width.mul_(3.0)  # a wider mask than at initialisation: more of the kernel survives cropping
            gpu = copy.deepcopy(cpu).to(DEVICE)
            x = torch.randn(*shape, dtype=torch.float64)
            outputs, grads = [], []
            for layer, inputs in ((cpu, x.clone()), (gpu, x.to(DEVICE))):
                inputs.requires_grad_(True)
                out = layer(inputs)
                (
                    out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device).view_as(out)
                ).sum().backward()
                outputs.append(out.detach().cpu())
                grads.append([inputs.grad.cpu()] + [p.grad.cpu() for p in layer.parameters()])
            worst = relative_difference(outputs[0], outputs[1])
            worst_grad = max(relative_difference(a, b) for a, b in zip(*grads))
            rows.append(
                {
                    "layer": name,
                    "method": method,
                    "kernel": "x".join(map(str, gpu.effective_kernel_size())),
                    "output_rel_diff": worst,
                    "grad_rel_diff": worst_grad,
                    "ok": max(worst, worst_grad) < TOLERANCE,
                }
            )
            print(
                f"exact  {name:9s} {method:7s} kernel {rows[-1]['kernel']:9s} output {worst:.1e}  gradients "
                f"{worst_grad:.1e}"
            )
    return rows


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / a.abs().max().clamp_min(1e-300))


def mixed_precision_row() -> dict:
    """The Fashion-MNIST FlexNet under bfloat16 autocast against float32, on the GPU."""
    torch.manual_seed(0)
    batch = 2 if QUICK else 64
    model = get_model("flexnet3", **SMALL).to(DEVICE).train()
    x, y = torch.randn(batch, 1, 28, 28, device=DEVICE), torch.randint(0, 10, (batch,), device=DEVICE)
    reference = model(x).detach()
    with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    finite = bool(torch.isfinite(loss)) and all(
        torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None
    )
    row = {
        "model": "flexnet3",
        "finite": finite,
        "logits_rel_diff": relative_difference(reference.float(), logits.detach().float()),
    }
    print(f"bf16   flexnet3 finite {finite}  logits differ by {row['logits_rel_diff']:.1e} of their largest value")
    return row


def conv_path_rows(repeats: int) -> list[dict]:
    """Spatial against FFT forward+backward on the GPU over kernel sizes, and what prefer_fft picks."""
    cases: list[tuple[tuple[int, ...], int, int, bool]] = [((64, 24, 32, 32), 24, k, False) for k in (3, 5, 9, 17, 33)]
    cases += [((64, 48, 32, 32), 48, k, False) for k in (3, 5)]
    cases += [((64, 30, 784), 30, k, True) for k in (4, 8, 16, 33, 129, 785)]
    if QUICK:
        cases = [((2, 4, 16, 16), 4, 5, False), ((2, 4, 64), 4, 33, True)]
    rows = []
    for shape, c_out, k, causal in cases:
        x = torch.randn(*shape, device=DEVICE, requires_grad=True)
        kernel = torch.randn(c_out, shape[1], *([k] * (len(shape) - 2)), device=DEVICE, requires_grad=True)
        grad = torch.randn(shape[0], c_out, *shape[2:], device=DEVICE)
        times = min_times(
            {
                "spatial": synchronised(conv_backward(Fc.spatial_conv, x, kernel, causal, grad)),
                "fft": synchronised(conv_backward(Fc.fft_conv, x, kernel, causal, grad)),
            },
            repeats,
        )
        auto = "fft" if Fc.prefer_fft(x.shape, kernel.shape, causal, device_type=DEVICE.type) else "spatial"
        faster = "fft" if times["fft"] < times["spatial"] else "spatial"
        rows.append(
            {
                "input": "x".join(map(str, shape)),
                "kernel": k,
                "causal": causal,
                "spatial_ms": 1e3 * times["spatial"],
                "fft_ms": 1e3 * times["fft"],
                "faster": faster,
                "auto": auto,
            }
        )
        print(
            f"conv   {rows[-1]['input']:12s} k={k:<4d} spatial {rows[-1]['spatial_ms']:.3f} ms  fft "
            f"{rows[-1]['fft_ms']:.3f} ms"
            f"  auto picks {auto}"
        )
    return rows


@contextlib.contextmanager
def autocast(precision: str) -> Iterator[None]:
    with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield


def adam_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str) -> Callable[[], None]:
    optimizer = torch.optim.Adam(fnn.param_groups(model, lr=1e-3))

    def step() -> None:
        optimizer.zero_grad()
        with autocast(precision):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        synchronise()

    return step


SMALL: dict = {}  # get_model overrides: none, or (--quick) a narrow, shallow network


def workloads() -> tuple[tuple[str, str, tuple[int, ...]], ...]:
    """(name, registered model, input shape): FlexNet-7 on CIFAR-10 batches, FlexTCN-6 on sMNIST batches."""
    if QUICK:
        return (("FlexNet-7", "flexnet7", (2, 3, 16, 16)), ("FlexTCN-6", "flextcn", (2, 1, 64)))
    return (("FlexNet-7", "flexnet7", (64, 3, 32, 32)), ("FlexTCN-6", "flextcn", (64, 1, 784)))


def workload_inputs(model_name: str, shape: tuple[int, ...]) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The model ``model_name`` (seed 0, on DEVICE, its grids fixed by one sample) with a random batch of
    ``shape`` and labels of 10 classes."""
    torch.manual_seed(0)
    model = get_model(model_name, **SMALL).to(DEVICE)
    x, y = torch.randn(*shape, device=DEVICE), torch.randint(0, 10, (shape[0],), device=DEVICE)
    with torch.no_grad():
        model(x[:1])  # fixes the grids
    return model, x, y


def network_rows(repeats: int) -> list[dict]:
    """Adam steps of FlexNet-7 (batch 64, 32x32) and FlexTCN-6 (batch 64, 784 steps): ours against plain torch.fft."""
    rows = []
    for name, model_name, shape in workloads():
        for masks in ("initial", "full"):
            for precision in ("fp32", "bf16"):
                model, x, y = workload_inputs(model_name, shape)
                if masks == "full":
                    widen_masks(model, FULL_WIDTH)
                model.train()
                step = adam_step(model, x, y, precision)
                steps = {}
                for impl in ("ours", "plain") if precision == "fp32" else ("ours",):  # cuFFT has no bfloat16 transforms

                    def run(impl: str = impl, step: Callable[[], None] = step) -> None:
                        with fft_implementation(impl):
                            step()

                    steps[impl] = run
                times = min_times(steps, repeats)
                memory = peak_step_memory_mib(step)
                plain = 1e3 * times["plain"] if "plain" in times else None
                rows.append(
                    {
                        "model": name,
                        "masks": masks,
                        "precision": precision,
                        "ours_ms": 1e3 * times["ours"],
                        "plain_fft_ms": plain,
                        "peak_mib": memory,
                    }
                )
                print(
                    f"step   {name:9s} {masks:7s} {precision}  ours {rows[-1]['ours_ms']:.2f} ms  plain fft "
                    f"{'–' if plain is None else f'{plain:.2f}'} ms  peak {memory:.0f} MiB"
                )
                del model, step, steps
                if DEVICE.type == "cuda":
                    torch.cuda.empty_cache()
    return rows


COMPILE_MODES = ("eager", "compile", "reduce-overhead")


def compiled_adam_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str, mode: str):
    """An Adam step whose forward and loss run eagerly or under torch.compile(fullgraph=True) (``mode``), as
    ``flexconv train compile=true`` runs them: crop sizes refreshed before each step, the optimiser step eager."""
    optimizer = torch.optim.Adam(fnn.param_groups(model, lr=1e-3))
    crops = fnn.StaticCrops(model)

    def losses(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with autocast(precision):
            return nn.functional.cross_entropy(model(x), y)

    if mode == "eager":
        loss_of = losses
    elif DEVICE.type == "cuda":
        loss_of = torch.compile(losses, fullgraph=True, mode=None if mode == "compile" else mode)
    else:  # the dry run: the same graphs, without generating code
        loss_of = torch.compile(losses, fullgraph=True, backend="aot_eager")

    def step() -> None:
        if mode != "eager":
            crops.refresh()
        if mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()
        optimizer.zero_grad(set_to_none=True)
        loss_of(x, y).backward()
        optimizer.step()
        synchronise()

    return step


def compile_rows(repeats: int) -> list[dict]:
    """FlexNet-7 and FlexTCN-6 Adam steps at the initial masks: eager, compiled, reduce-overhead; fp32 and bf16."""
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    rows = []
    for name, model_name, shape in workloads():
        for precision in ("fp32", "bf16"):
            model, x, y = workload_inputs(model_name, shape)
            model.train()
            steps, first = {}, {}
            for mode in COMPILE_MODES:
                torch._dynamo.reset()
                steps[mode] = compiled_adam_step(copy.deepcopy(model), x, y, precision, mode)
                start = time.perf_counter()
                for _ in range(3):  # compilation, CUDA-graph warm-up and recording
                    steps[mode]()
                first[mode] = time.perf_counter() - start
            times = min_times(steps, repeats)
            for mode in COMPILE_MODES:
                row = {
                    "model": name,
                    "precision": precision,
                    "mode": mode,
                    "step_ms": 1e3 * times[mode],
                    "first_steps_s": first[mode],
                    "peak_mib": peak_step_memory_mib(steps[mode]),
                    "cifar10_epoch_s": times[mode] * CIFAR10_STEPS if model_name == "flexnet7" else None,
                }
                rows.append(row)
                print(
                    f"compile {name:9s} {precision} {mode:15s} step {row['step_ms']:.2f} ms  first 3 steps "
                    f"{row['first_steps_s']:.1f} s  peak {row['peak_mib']:.0f} MiB"
                )
            del model, steps
            if DEVICE.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def compile_markdown(rows: list[dict], command: str) -> str:
    lines = [
        f"Device: {device_name()}, torch {torch.__version__}. Command: `{command}`. One Adam step at the initial "
        f"masks ({'; '.join(f'{name}: input {tuple(shape)}' for name, _, shape in workloads())}) with the forward "
        "and loss eager, "
        'under `torch.compile(fullgraph=True)` (inductor) or `mode="reduce-overhead"` (inductor with CUDA graphs), as '
        "`flexconv train compile=true` runs them (crop sizes refreshed before each step, the optimiser step eager). "
        "Times: CUDA-synchronised wall time, minimum of interleaved rounds after the first three steps (their "
        "seconds: compilation and CUDA-graph recording). CIFAR-10 epoch: FlexNet-7's step x 782 (50,000 images, "
        "batch 64; data loading not included)."
        + ("" if DEVICE.type == "cuda" else " A dry run: both compiled modes ran the `aot_eager` backend here."),
        "",
        "| model | precision | mode | step (ms) | vs eager | first 3 steps (s) | peak memory (MiB) "
        "| CIFAR-10 epoch (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    eager = {(r["model"], r["precision"]): r["step_ms"] for r in rows if r["mode"] == "eager"}
    for r in rows:
        epoch = "–" if r["cifar10_epoch_s"] is None else f"{r['cifar10_epoch_s']:.0f}"
        lines.append(
            f"| {r['model']} | {r['precision']} | {r['mode']} | {r['step_ms']:.2f} | "
            f"{eager[(r['model'], r['precision'])] / r['step_ms']:.2f}x | {r['first_steps_s']:.1f} | "
            f"{r['peak_mib']:,.0f} | {epoch} |"
        )
    return "\n".join(lines) + "\n"


def peak_step_memory_mib(step: Callable[[], None]) -> float:
    """Peak GPU memory allocated during one ``step`` (nan on the CPU)."""
    if DEVICE.type != "cuda":
        return float("nan")
    torch.cuda.reset_peak_memory_stats()
    step()
    return torch.cuda.max_memory_allocated() / 2**20


def device_name() -> str:
    if DEVICE.type != "cuda":
        return "CPU"
    props = torch.cuda.get_device_properties(DEVICE)
    return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"


def markdown(exact: list[dict], mixed: dict, paths: list[dict], networks: list[dict], command: str) -> str:
    lines = [
        f"Device: {device_name()}, torch {torch.__version__}. "
        f"Command: `{command}`. Times: CUDA-synchronised wall time, minimum of interleaved rounds after a warm-up.",
        "",
        "Exactness, float64, the same FlexConv and input on the CPU and the GPU (largest difference relative to the "
        "largest CPU value):",
        "",
        "| layer | path | kernel | output | gradients |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['layer']} | {r['method']} | {r['kernel']} | {r['output_rel_diff']:.1e} | {r['grad_rel_diff']:.1e} |"
        for r in exact
    ]
    lines += [
        "",
        f"bfloat16 autocast, Fashion-MNIST FlexNet forward+backward: finite {mixed['finite']}; logits differ from "
        f"float32 by {mixed['logits_rel_diff']:.1e} of their largest value.",
        "",
        "Adam training steps, ours against the same model with the plain `torch.fft` convolution:",
        "",
        "| model | masks | precision | step (ms) | plain torch.fft (ms) | peak memory (MiB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['model']} | {r['masks']} | {r['precision']} | {r['ours_ms']:.2f} | "
        f"{'–' if r['plain_fft_ms'] is None else format(r['plain_fft_ms'], '.2f')} | {r['peak_mib']:,.0f} |"
        for r in networks
    ]
    lines += [
        "",
        'The plain convolution cannot run under bfloat16 autocast (cuFFT has no bfloat16 transforms: "–"); '
        "flexconv's FFT path computes its transforms in float32 there.",
    ]
    lines += [
        "",
        f"Spatial against FFT path on the GPU (forward+backward, float32), and what `prefer_fft` picks on this device "
        f"(`FFT_COST_FACTOR_CUDA` = {Fc.FFT_COST_FACTOR_CUDA:g}, fitted to this sweep):",
        "",
        "| input | kernel | spatial (ms) | FFT (ms) | faster | auto picks |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['input']}{' (causal)' if r['causal'] else ''} | {r['kernel']} | {r['spatial_ms']:.3f} | "
        f"{r['fft_ms']:.3f} | "
        f"{r['faster']} | {r['auto']} |"
        for r in paths
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--docs", type=Path, help="default: docs/benchmarks.md; <out>/gpu_check_dry_run.md on the CPU")
    parser.add_argument(
        "--device", default="cuda", help="cuda, or cpu for a dry run of the script (nothing is compared then)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny models and inputs, 2 repeats (a dry run)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = parser.parse_args()
    global DEVICE, QUICK
    DEVICE, QUICK = torch.device(args.device), args.quick
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        sys.exit(f"gpu_check: unknown parts {sorted(parts - set(PARTS))}; choose from {', '.join(PARTS)}")
    if QUICK:
        SMALL.update(hidden_channels=8, conv={"kernel_net": {"hidden_channels": 8}})
        args.repeats = min(args.repeats, 2)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check needs a CUDA GPU: torch.cuda.is_available() is False here (--device cpu for a dry run)")
    docs = args.docs or (Path("docs/benchmarks.md") if DEVICE.type == "cuda" else args.out / "gpu_check_dry_run.md")
    start = time.perf_counter()
    exact = exactness_rows() if "exact" in parts else []
    mixed = mixed_precision_row() if "mixed" in parts else {"finite": True}
    networks = network_rows(args.repeats) if "steps" in parts else []
    paths = conv_path_rows(args.repeats) if "paths" in parts else []
    compiled = compile_rows(args.repeats) if "compile" in parts else []
    command = "python benchmarks/gpu_check.py" + (f" --repeats {args.repeats}" if args.repeats != 10 else "")
    command += f" --parts {args.parts}" if parts != set(PARTS) else ""
    command += f" --device {args.device}" if DEVICE.type != "cuda" else ""
    command += " --quick" if QUICK else ""
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "device": device_name(),
        "torch": torch.__version__,
        "parts": sorted(parts),
        "exactness": exact,
        "mixed_precision": mixed,
        "networks": networks,
        "conv_paths": paths,
        "compile": compiled,
    }
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    if {"exact", "mixed", "steps", "paths"} <= parts:
        write_block(docs, "gpu", markdown(exact, mixed, paths, networks, command))
    if "compile" in parts:
        write_block(docs, "gpucompile", compile_markdown(compiled, command))
    print(f"gpu_check: {time.perf_counter() - start:.0f} s; wrote {args.out / 'gpu_check.json'} and {docs}")
    failed = [r for r in exact if not r["ok"]] + ([] if mixed["finite"] else [mixed])
    if failed:
        sys.exit(f"gpu_check: {len(failed)} check(s) failed: {failed}")


if __name__ == "__main__":
    main()
