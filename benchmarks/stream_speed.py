"""Streaming inference against re-running the model on the growing sequence, per new step.

    .venv/bin/python benchmarks/stream_speed.py [--repeats 5] [--threads 1] [--out benchmarks/out]

Model: FlexTCN-6 (``flextcn``: 6 TCN blocks of 30 channels, 373,324 parameters), eval
mode, batch 1, kernel grids fixed at 784 taps (sMNIST), at the initial masks (kernels of 64 taps)
and with every mask covering the whole 784-tap grid. For streams of 100, 1,000 and 10,000 steps:

* **re-run**: ``model(x[..., :T])``, what producing step T's output costs without streaming;
* **stream, 1 step**: one ``flexconv.nn.stream`` call with a single new step, after T - 1 steps;
* **stream, chunks of 100**: per step, a call with 100 new steps.

Each figure is the minimum over ``--repeats`` rounds that interleave the three (a stream figure:
the mean of 20 consecutive single steps, or of one chunk of 100 steps). Also checked and printed:
the streamed output at step T against ``model(x)`` (relative error) and the stream's state in KiB
(the same for every T).

**compiled, 1 step**: the same single steps with the stream compiled (``Stream.compile()``: each call's
computation under ``torch.compile(fullgraph=True)``, inductor), after 200 warm-up steps; its cost does
not depend on T either, so it is measured once per mask setting, with the seconds its first three steps
took (compilation) and its largest difference from the eager stream.
Prints a table and writes ``<out>/stream_speed.json`` and the block between
``<!-- stream:start -->`` and ``<!-- stream:end -->`` of ``docs/benchmarks.md`` (appended if absent).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from page import min_times, write_block
from torch import nn

import flexconv.nn as fnn
from flexconv.models.registry import get_model

GRID = 784
LENGTHS = (100, 1_000, 10_000)
SINGLE_STEPS = 20
CHUNK = 100


def flextcn(full_masks: bool) -> nn.Module:
    torch.manual_seed(0)
    model = get_model("flextcn").eval()
    if full_masks:
        for layer in model.modules():
            if isinstance(layer, fnn.FlexConv):
                layer.mask.width.data.fill_(10.0)  # nothing cropped: the whole 784-tap grid
    with torch.no_grad():
        model(torch.randn(1, 1, GRID))  # fixes the grids ("same" horizon) at 784 taps
    return model


def measure(model: nn.Module, length: int, repeats: int) -> dict[str, float]:
    x = torch.randn(1, 1, length + CHUNK)
    s = fnn.stream(model)
    streamed = torch.cat([s(part) for part in x[..., :length].split(1000, dim=-1)], dim=-1)
    with torch.no_grad():
        full = model(x[..., :length])
    error = float((streamed[..., -1] - full).abs().max() / full.abs().max())
    state_kib = s.state_numel() * x.element_size() / 1024

    def rerun() -> None:
        with torch.no_grad():
            model(x[..., :length])

    def single_steps() -> None:  # the stream goes on: every call is one more step
        for t in range(length, length + SINGLE_STEPS):
            s(x[..., t : t + 1])

    def chunk() -> None:
        s(x[..., length : length + CHUNK])

    times = min_times({"rerun": rerun, "step": single_steps, "chunk": chunk}, repeats)
    step = times["step"] / SINGLE_STEPS
    return {
        "length": length,
        "rerun_s": times["rerun"],
        "stream_step_s": step,
        "stream_chunk_step_s": times["chunk"] / CHUNK,
        "speedup": times["rerun"] / step,
        "rel_error": error,
        "state_kib": state_kib,
    }


def measure_compiled(model: nn.Module, repeats: int) -> dict[str, float]:
    """Single steps of a compiled stream (inductor) against the eager stream on the same inputs."""
    torch._dynamo.reset()
    x = torch.randn(1, 1, 200 + SINGLE_STEPS * (repeats + 1))
    eager, compiled = fnn.stream(model), fnn.stream(model)
    compiled.compile()
    start = time.perf_counter()
    outs = [compiled(x[..., t : t + 1]) for t in range(3)]
    first = time.perf_counter() - start
    outs += [compiled(x[..., t : t + 1]) for t in range(3, 200)]
    best, t = float("inf"), 200
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(SINGLE_STEPS):
            outs.append(compiled(x[..., t : t + 1]))
            t += 1
        best = min(best, (time.perf_counter() - start) / SINGLE_STEPS)
    out = torch.cat(outs, dim=-1)
    expected = torch.cat([eager(x[..., i : i + 1]) for i in range(out.shape[-1])], dim=-1)
    return {
        "compiled_step_s": best,
        "first_steps_s": first,
        "rel_diff": float((out - expected).abs().max() / expected.abs().max()),
    }


def markdown(
    results: dict[str, list[dict[str, float]]],
    command: str,
    kernels: dict[str, int],
    load: float,
    compiled: dict[str, dict[str, float]],
) -> str:
    lines = [
        "## Streaming inference",
        "",
        f"Command: `{command}` ({platform.machine()}, torch {torch.__version__}, float32, batch 1, "
        f"minimum of the repeats; the machine is shared: load average {load:.1f} at the end of the run). "
        "FlexTCN-6 (`flextcn`, 373,324 parameters), grids of 784 taps; per new step of a stream of "
        "T steps: re-running the model on the T steps (no streaming) against one `flexconv.nn.stream` call "
        "of one step, and per step within a call of 100 steps.",
        "",
        "| masks | T | re-run model(x[:T]) (ms) | stream, 1 step (ms) | stream, chunks of 100 (ms/step) "
        "| speed-up (1 step) | error at T | stream state (KiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case, rows in results.items():
        for r in rows:
            lines.append(
                f"| {case} (k = {kernels[case]}) | {r['length']:,} | {r['rerun_s'] * 1e3:.2f} | "
                f"{r['stream_step_s'] * 1e3:.3f} | {r['stream_chunk_step_s'] * 1e3:.3f} | {r['speedup']:.0f}x | "
                f"{r['rel_error']:.1e} | {r['state_kib']:.0f} |"
            )
    lines += [
        "",
        "A streamed step costs the same at every T (its work and state are bounded by the cropped kernel "
        'length k), while re-running grows with T. "error at T": the streamed output at step T against '
        "`model(x)` on the T steps (relative, max over classes).",
        "",
        "Compiled (`Stream.compile()`, inductor): one step of the stream, after 200 warm-up steps (the same at "
        "every T); first three steps: compilation; difference: largest against the eager stream, relative.",
        "",
        "| masks | stream, 1 step (ms) | compiled, 1 step (ms) | eager / compiled | first 3 steps (s) | difference |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case, row in compiled.items():
        eager = min(r["stream_step_s"] for r in results[case])
        lines.append(
            f"| {case} (k = {kernels[case]}) | {eager * 1e3:.3f} | {row['compiled_step_s'] * 1e3:.3f} | "
            f"{eager / row['compiled_step_s']:.1f}x | {row['first_steps_s']:.0f} | {row['rel_diff']:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    command = f".venv/bin/python benchmarks/stream_speed.py --repeats {args.repeats} --threads {args.threads}"
    results, kernels, compiled = {}, {}, {}
    for case, full_masks in (("initial", False), ("full", True)):
        model = flextcn(full_masks)
        kernels[case] = max(m.effective_kernel_size()[0] for m in model.modules() if isinstance(m, fnn.FlexConv))
        results[case] = []
        for length in LENGTHS:
            row = measure(model, length, args.repeats)
            results[case].append(row)
            print(
                f"{case:8s} k={kernels[case]:4d} T={length:6d}  re-run {row['rerun_s'] * 1e3:9.2f} ms  "
                f"stream step {row['stream_step_s'] * 1e3:7.3f} ms  chunk {row['stream_chunk_step_s'] * 1e3:7.3f} "
                f"ms/step  x{row['speedup']:.0f}  error {row['rel_error']:.1e}  state {row['state_kib']:.0f} KiB",
                flush=True,
            )
        compiled[case] = measure_compiled(model, args.repeats)
        print(
            f"{case:8s} compiled step {compiled[case]['compiled_step_s'] * 1e3:7.3f} ms  {compiled[case]}", flush=True
        )
    load = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "command": command,
        "threads": args.threads,
        "load_average": load,
        "kernel_taps": kernels,
        "results": results,
        "compiled": compiled,
    }
    (args.out / "stream_speed.json").write_text(json.dumps(summary, indent=2))
    write_block(args.docs, "stream", markdown(results, command, kernels, load, compiled))
    print(f"wrote {args.out / 'stream_speed.json'} and the stream block of {args.docs}")


if __name__ == "__main__":
    main()
