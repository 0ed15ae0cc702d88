"""FlexTCN training steps on sequences: time and peak memory, ours against a plain ``torch.fft`` convolution.

    .venv/bin/python benchmarks/sequence_speed.py [--repeats 5] [--threads 2] [--skip-long] [--original DIR]

Workloads (one Adam step of FlexTCN-6, ``flextcn``, 373,324 parameters):

1. sMNIST, batch 64x1x784, at the initial masks (kernels of ~64 taps) and with full-length kernels
   (784 taps, every mask widened so that nothing is cropped).
2. Speech Commands raw audio, 16,000 steps, full-length kernels, batch 64: ours only (recomputing or
   storing spectra); the plain convolution's figures there (14.4 GB, over a minute a step) are quoted
   from issue 13 ("flexconv before"), as running it needs most of this shared machine's memory.

"ours": the default, which stores each layer's input and kernel spectra for the backward while the
input spectrum takes at most ``SAVE_SPECTRA_MAX_BYTES`` (the 784-step rows) and recomputes them above
(the 16,000-step row). "flipped": the other side of that switch (``SAVE_SPECTRA`` False at 784 steps,
True at 16,000), to show what the default buys.

"plain" is the same model with every FFT convolution replaced by the textbook one (``rfftn``,
``einsum`` over channels, ``irfftn``, autograd through all of it): the FFT path flexconv had before
(its figures, measured in the issues beside the original code, are quoted as "measured earlier").

"original" (with ``--original DIR``, a checkout of github.com/rjbruin/flexconv): the authors' own
``SeqData_TCN`` built from the original config that ``flexconv.compat`` maps to ``flextcn``
(checked equal before timing), same batch, same masks, timed in the same rounds as ours. Without it,
the original's figures measured earlier (issues 8 and 13) are quoted.

Times: minimum over ``--repeats`` rounds in which ours and plain alternate (the machine is shared
and noisy: interleaving gives both the same load, the minimum is the least disturbed run).
Memory: peak resident memory of one training step above the memory before it (the model built,
the grids fixed), each in a fresh process (``page.peak_memory_mib``).
Writes ``<out>/sequence_speed.json`` and the ``sequence`` block of ``docs/benchmarks.md``.

``--plain [--plain-rounds 3] [--long-batch 16]``: instead, ours in a plain process (a user's own script,
no ``flexconv.malloc.keep_freed_memory()``) against a process that calls it before importing torch, for
the three workloads (the 16,000-step one at ``--long-batch``). Each round runs one fresh process of
each kind, alternating; a process times a few steps after a warm-up and counts their minor page faults
(``ru_minflt``) and CPU time (user + system: zeroing fresh pages is system time). Figures: minimum over
the rounds. Writes ``<out>/plain_speed.json`` and the ``plain`` block of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from flexconv.malloc import TORCH_HUGE_PAGES, keep_freed_memory

# as the flexconv command does: before torch allocates anything (not in --plain's "plain" child processes)
PLAIN_CHILD = "--plain-child" in sys.argv and sys.argv[sys.argv.index("--plain-child") + 2] == "plain"
if not PLAIN_CHILD:
    keep_freed_memory()

# Imported after keep_freed_memory() on purpose (it must run before torch allocates), hence the noqa: E402.
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from page import min_times, peak_memory_mib, write_block  # noqa: E402
from torch import nn  # noqa: E402

import flexconv.nn as fnn  # noqa: E402
from flexconv.compat import flexnet_config_from_original  # noqa: E402
from flexconv.models.registry import get_model  # noqa: E402
from flexconv.models.variants import flextcn  # noqa: E402
from flexconv.nn import functional as Fc  # noqa: E402

# Measured earlier on this kind of 2-core machine (issues 8 and 13): the original code and flexconv
# before this FFT path ("before"), one Adam step.
EARLIER = {
    "init_784": {"original_s": 0.67, "before_s": 0.67},
    "full_784": {"original_s": 1.06, "before_s": 1.21},
    "full_16000": {"original_s": 78.7, "before_s": 74.4, "original_mib": 15494, "before_mib": 14428},
}
CASES = {  # name: (sequence length, full-length kernels)
    "init_784": (784, False),
    "full_784": (784, True),
    "full_16000": (16000, True),
}
FULL_WIDTH = 100.0  # mask width so large that nothing is cropped
# flextcn in the original code's config sections (models/cktcn.py SeqData_TCN); the other keys
# take the original's cfg/config.yaml defaults. ``original_workload`` checks that compat maps it to ours.
ORIGINAL_CONFIG = {
    "net": {
        "type": "TCN",
        "no_hidden": 30,
        "no_blocks": 6,
        "dropout": 0.1,
        "dropout_in": 0.0,
        "norm": "BatchNorm",
        "nonlinearity": "ReLU",
        "block_width_factors": [0.0],
    },
    "kernel": {
        "type": "MAGNet",
        "dim_linear": 1,
        "no_hidden": 32,
        "no_layers": 3,
        "activ_function": "",
        "norm": "",
        "omega_0": 30.0,
        "learn_omega_0": False,
        "weight_norm": False,
        "steerable": False,
        "init_spatial_value": 1.0,
        "bias_init": None,
        "input_scale": 25.6,
        "sampling_rate_norm": 1.0,
    },
    "conv": {"type": "FlexConv", "use_fft": True, "bias": True, "padding": "same", "stride": 1, "horizon": "same"},
    "mask": {
        "use": True,
        "type": "gaussian",
        "temperature": 15.0,
        "init_value": 0.075,
        "dynamic_cropping": True,
        "threshold": 0.1,
    },
}


def plain_fft_conv(
    x: torch.Tensor,
    kernel: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    *,
    causal: bool = False,
    groups: int = 1,
    save_spectra: bool = False,
) -> torch.Tensor:
    """The textbook FFT convolution, differentiated by autograd through ``torch.fft`` (dense only)."""
    if groups != 1:
        raise ValueError("plain_fft_conv is dense only")
    axes = tuple(range(2, x.dim()))
    spatial = x.shape[2:]
    pads = Fc.padding_amounts(kernel.shape[2:], causal)
    sizes = Fc.fft_sizes(spatial, kernel.shape[2:], causal)
    x_pads = [(left, n - s - left) for (left, _), n, s in zip(pads, sizes, spatial)]
    x_f = torch.fft.rfftn(F.pad(x, [a for pair in reversed(x_pads) for a in pair]), dim=axes)  # (B, C_in, *F)
    k_f = torch.fft.rfftn(kernel, s=sizes, dim=axes).conj()  # (C_out, C_in, *F)
    out_f = torch.einsum("bif,oif->bof", x_f.flatten(2), k_f.flatten(2)).view(x.shape[0], -1, *x_f.shape[2:])
    out = torch.fft.irfftn(out_f, s=sizes, dim=axes)[(Ellipsis, *(slice(0, s) for s in spatial))]
    return out if bias is None else out + bias.view(1, -1, *([1] * len(axes)))


# The other side of the store-or-recompute switch from the one the default picks, per case.
FLIPPED = {"init_784": False, "full_784": False, "full_16000": True}


@contextlib.contextmanager
def fft_implementation(name: str, case: Optional[str] = None) -> Iterator[None]:
    """Within the block, every FFT convolution of flexconv.nn is ``name``'s: "ours" (the default
    store-or-recompute choice), "flipped" (ours with the other choice for ``case``, see FLIPPED) or "plain"."""
    ours, default = Fc.fft_conv, Fc.SAVE_SPECTRA
    Fc.fft_conv = plain_fft_conv if name == "plain" else ours
    Fc.SAVE_SPECTRA = FLIPPED[case] if name == "flipped" else default
    try:
        yield
    finally:
        Fc.fft_conv, Fc.SAVE_SPECTRA = ours, default


def workload(case: str, batch: int):
    """(model, train_step) for one case; the model is built and its grids fixed."""
    length, full = CASES[case]
    torch.manual_seed(0)
    model = get_model("flextcn")
    with torch.no_grad():
        model(torch.randn(1, 1, length))  # fixes the "same" grids at `length` taps
        if full:
            for layer in model.modules():
                if isinstance(layer, fnn.FlexConv):
                    layer.mask.width.fill_(FULL_WIDTH)
    return model, adam_step(model, batch, length)


def original_workload(case: str, batch: int, checkout: Path):
    """(model, train_step) of the original code's FlexTCN-6 (``checkout``: a clone of rjbruin/flexconv)."""
    from omegaconf import OmegaConf

    as_original = {"model": "SeqData_TCN", "in_channels": 1, "out_channels": 10, **ORIGINAL_CONFIG}
    mapped = flexnet_config_from_original(as_original)
    # compat keeps the original's initial width whatever the grid (min_taps=1), ours widens masks narrower than
    # 3 taps: at 784 steps every initial window has about 64 taps, so both build the same model.
    mapped.conv.mask = {**mapped.conv.mask, "min_taps": flextcn().conv.mask["min_taps"]}
    if mapped != flextcn():
        raise RuntimeError("ORIGINAL_CONFIG no longer maps to flextcn: the timings would compare different models")
    sys.path.insert(0, str(checkout))
    # The original's models/__init__ imports its image ResNets, which need the authors' `srf` package; the TCN does not.
    sys.modules.setdefault("srf", types.ModuleType("srf"))
    sys.modules.setdefault("srf.nn", types.SimpleNamespace(Srf_layer_shared=None))
    from models import SeqData_TCN  # type: ignore[import-not-found]  (the original code)

    length, full = CASES[case]
    torch.manual_seed(0)
    sections = {name: OmegaConf.create(ORIGINAL_CONFIG[name]) for name in ("net", "kernel", "conv", "mask")}
    model = SeqData_TCN(
        in_channels=1,
        out_channels=10,
        net_config=sections["net"],
        kernel_config=sections["kernel"],
        conv_config=sections["conv"],
        mask_config=sections["mask"],
    )
    if full:
        with torch.no_grad():
            for layer in model.modules():
                if hasattr(layer, "mask_params"):
                    layer.mask_params[..., 1].fill_(FULL_WIDTH)  # rows (mean, width) per axis
    return model, adam_step(model, batch, length)


def adam_step(model: nn.Module, batch: int, length: int):
    """One Adam step of ``model`` in train mode on a fixed random batch (B, 1, length), as a callable."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, 1, length), torch.randint(0, 10, (batch,))

    def train_step() -> None:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return train_step


def kernel_sizes(model: nn.Module) -> str:
    sizes = sorted({layer.effective_kernel_size()[0] for layer in model.modules() if isinstance(layer, fnn.FlexConv)})
    return f"{sizes[0]}-{sizes[-1]}" if len(sizes) > 1 else str(sizes[0])


def memory_in_subprocess(case: str, impl: str, batch: int, threads: int, original: Optional[Path] = None) -> float:
    """Peak memory (MiB) of one training step, measured in a fresh process."""
    checkout = ["--original", str(original)] if original else []
    result = subprocess.run(
        [sys.executable, __file__, "--child", case, impl, str(batch), "--threads", str(threads), *checkout],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def time_case(
    case: str, batch: int, repeats: int, impls: tuple[str, ...], cpu: bool = False, original: Optional[Path] = None
) -> dict[str, float]:
    """Wall times (``<impl>_s``) and, with ``cpu``, single-thread CPU times (``<impl>_cpu_s``); with
    ``original`` (a checkout of the original code) its model's step too, as impl "original"."""
    model, step = workload(case, batch)
    steps = {}
    for impl in impls:

        def run(impl: str = impl) -> None:
            with fft_implementation(impl, case):
                step()

        steps[impl] = run
    if original:
        steps["original"] = original_workload(case, batch, original)[1]
    row = {"kernel_taps": kernel_sizes(model), **{f"{i}_s": t for i, t in min_times(steps, repeats).items()}}
    if cpu:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        row.update({f"{i}_cpu_s": t for i, t in min_times(steps, repeats, clock=time.thread_time).items()})
        torch.set_num_threads(threads)
    return row


def rows(repeats: int, threads: int, skip_long: bool, original: Optional[Path]) -> list[dict]:
    out = []
    impls = ("ours", "flipped", "plain")
    for case in ("init_784", "full_784"):
        row = {"case": case, "batch": 64, **time_case(case, 64, repeats, impls, cpu=True, original=original)}
        for impl in (*impls, "original") if original else impls:
            row[f"{impl}_mib"] = memory_in_subprocess(case, impl, 64, threads, original)
        out.append(row)
        print(json.dumps(row))
    if not skip_long:
        row = {"case": "full_16000", "batch": 64, **time_case("full_16000", 64, 1, ("ours", "flipped"))}
        for impl in ("ours", "flipped"):
            row[f"{impl}_mib"] = memory_in_subprocess("full_16000", impl, 64, threads)
        row["plain_s"], row["plain_mib"] = EARLIER["full_16000"]["before_s"], EARLIER["full_16000"]["before_mib"]
        out.append(row)
        print(json.dumps(row))
    return out


CASE_NAMES = {
    "init_784": "sMNIST 784, initial masks",
    "full_784": "sMNIST 784, full-length kernels",
    "full_16000": "Speech raw 16,000, full-length kernels",
}
"""How the benchmark pages name each case."""


def markdown(results: list[dict], command: str) -> str:
    lines = [
        "## Sequences: FlexTCN-6 training step",
        "",
        f"Command: `{command}` ({torch.get_num_threads()} CPU threads, {platform.machine()}, torch "
        f"{torch.__version__}, float32). "
        'One Adam step of FlexTCN-6 (`flextcn`, 373,324 parameters). "plain": the same model with '
        "the textbook `torch.fft` convolution (rfftn, einsum over channels, irfftn, autograd through all of it; the "
        'FFT path flexconv had before). "ours": the default, which stores every layer\'s input and kernel spectra '
        "for the backward while the input spectrum takes at most 12 MiB (`SAVE_SPECTRA_MAX_BYTES`; the 784-step rows) "
        'and recomputes them above (the 16,000-step row); "flipped": the other side of that switch '
        "(`flexconv.nn.functional.SAVE_SPECTRA` False at 784 steps, True at 16,000). The three run in "
        "the same process, alternating; times are the minimum over the rounds (the machine is shared: other work "
        "inflates absolute times, and the plain path, made of many small parallel operations, suffers most). "
        "Memory: peak resident memory of one step above the built model, each in a fresh process.",
        "",
        "| workload | batch | kernel taps | ours (s) | flipped (s) | plain torch.fft (s) | plain / ours | ours (MiB) "
        "| flipped (MiB) | plain (MiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(row: dict, key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else ""

    for row in results:
        earlier = " (measured earlier)" if row["case"] == "full_16000" else ""
        lines.append(
            f"| {CASE_NAMES[row['case']]} | {row['batch']} | {row['kernel_taps']} | {cell(row, 'ours_s', '.3f')} | "
            f"{cell(row, 'flipped_s', '.3f')} | {cell(row, 'plain_s', '.3f')}{earlier} | "
            f"{row['plain_s'] / row['ours_s']:.1f}x | "
            f"{cell(row, 'ours_mib', ',.0f')} | {cell(row, 'flipped_mib', ',.0f')} | "
            f"{cell(row, 'plain_mib', ',.0f')}{earlier} |"
        )
    live = any("original_s" in r for r in results)
    lines += [
        "",
        (
            'Against the original code: "original, same rounds" is the authors\' code (`--original`, their '
            "`SeqData_TCN` with the config that `flexconv.compat` maps to `flextcn`, checked equal) timed in the "
            "same interleaved rounds as ours, so both saw the same load; the ratio uses it where present. "
            if live
            else "Against the original code: "
        )
        + '"measured earlier": the original code and flexconv before this FFT path, timed on an idle machine of the '
        f"same kind (issues 8 and 13). Load average {os.getloadavg()[0]:.1f} when written. As a load-independent "
        "cross-check, the 784-step rows also give single-thread CPU times (`time.thread_time`, one torch thread, "
        "interleaved minimum).",
        "",
        "| workload (batch 64) | original, same rounds (s) | original, measured earlier (s) | flexconv before, "
        "measured earlier (s) | ours (s) | original / ours | 1-thread CPU time: ours / plain | 1-thread CPU time: "
        "original / ours "
        "| peak memory: original / ours (MiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        e = EARLIER[r["case"]]
        original_s = r.get("original_s", e["original_s"])
        plain_cpu = (
            f"{r['ours_cpu_s']:.2f} / {r['plain_cpu_s']:.2f} s = {r['ours_cpu_s'] / r['plain_cpu_s']:.2f}"
            if "plain_cpu_s" in r
            else ""
        )
        original_cpu = (
            f"{r['original_cpu_s']:.2f} / {r['ours_cpu_s']:.2f} s = {r['original_cpu_s'] / r['ours_cpu_s']:.1f}x"
            if "original_cpu_s" in r
            else ""
        )
        memory = f"{r['original_mib']:,.0f} / {r['ours_mib']:,.0f}" if "original_mib" in r else ""
        lines.append(
            f"| {CASE_NAMES[r['case']]} | {cell(r, 'original_s', '.3f') or '–'} | {e['original_s']} | "
            f"{e['before_s']} | {r['ours_s']:.3f} | {original_s / r['ours_s']:.1f}x | {plain_cpu} | "
            f"{original_cpu} | {memory} |"
        )
    long = [r for r in results if r["case"] == "full_16000"]
    if long:
        e = EARLIER["full_16000"]
        lines += [
            "",
            f"Peak memory of the 16,000-step batch-64 step: original {e['original_mib']:,} MiB, flexconv before "
            f"{e['before_mib']:,} MiB, ours {long[0]['ours_mib']:,.0f} MiB (spectra stored: "
            f"{long[0]['flipped_mib']:,.0f} MiB).",
        ]
    return "\n".join(lines)


def child(case: str, impl: str, batch: int, original: Optional[Path]) -> None:
    """Subprocess mode: print the peak memory (MiB) of one training step."""
    if impl == "original":
        print(peak_memory_mib(original_workload(case, batch, original)[1]))
        return
    _, step = workload(case, batch)
    with fft_implementation(impl, case):
        print(peak_memory_mib(step))


PLAIN_STEPS = {"init_784": (2, 5), "full_784": (2, 5), "full_16000": (1, 2)}  # (warm-up, timed) steps


def plain_child(case: str, mode: str, batch: int) -> None:
    """Subprocess mode of ``--plain``: print the per-step wall time and CPU time (the minimum over the timed
    steps) and minor page faults (their mean: steps differ in what the allocator hands back), as JSON."""
    import resource

    _, step = workload(case, batch)
    warm, timed = PLAIN_STEPS[case]
    for _ in range(warm):
        step()
    walls, cpus, faults = [], [], 0
    for _ in range(timed):
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        step()
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        faults += after.ru_minflt - before.ru_minflt
    print(json.dumps({"wall_s": min(walls), "cpu_s": min(cpus), "minflt": faults / timed}))


def plain_rows(rounds: int, threads: int, long_batch: int) -> list[dict]:
    """Ours in plain processes against processes with keep_freed_memory(), alternating; minimum over rounds."""
    env = {key: value for key, value in os.environ.items() if key != TORCH_HUGE_PAGES}  # this process set it
    out = []
    for case, batch in (("init_784", 64), ("full_784", 64), ("full_16000", long_batch)):
        best: dict[str, dict[str, float]] = {}
        for _ in range(rounds):
            for mode in ("tuned", "plain"):
                command = [sys.executable, __file__, "--plain-child", case, mode, str(batch), "--threads", str(threads)]
                result = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
                figures = json.loads(result.stdout.strip().splitlines()[-1])
                best[mode] = {k: min(v, best.get(mode, {}).get(k, float("inf"))) for k, v in figures.items()}
        row = {"case": case, "batch": batch, **{f"{m}_{k}": v for m, f in best.items() for k, v in f.items()}}
        out.append(row)
        print(json.dumps(row))
    return out


def plain_markdown(results: list[dict], command: str) -> str:
    lines = [
        "## Without `keep_freed_memory()`: a user's own script",
        "",
        f"Command: `{command}` (x86_64, torch {torch.__version__}, float32, load average "
        f"{os.getloadavg()[0]:.1f} when written). One Adam step of FlexTCN-6 (ours), in a plain process (no "
        "`flexconv.malloc.keep_freed_memory()`, as a user's own script runs) and in a process that calls it "
        "before importing torch (as the `flexconv` command and the other benchmarks do). Fresh processes, "
        "alternating, minimum over the rounds; within a process, the minimum over a few steps after a warm-up. "
        "CPU time is user + system time of the step (zeroing freshly mapped pages is system time): on this shared "
        "machine it is the steadier figure, as other jobs inflate wall times unevenly; page faults: minor page "
        "faults of the step (`ru_minflt`, the mean over the timed steps).",
        "",
        "| workload | batch | plain (s) | tuned (s) | plain / tuned | CPU plain (s) | CPU tuned (s) "
        "| CPU plain / tuned | page faults plain | page faults tuned |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {CASE_NAMES[r['case']]} | {r['batch']} | {r['plain_wall_s']:.3f} | {r['tuned_wall_s']:.3f} | "
            f"{r['plain_wall_s'] / r['tuned_wall_s']:.2f}x | {r['plain_cpu_s']:.3f} | {r['tuned_cpu_s']:.3f} | "
            f"{r['plain_cpu_s'] / r['tuned_cpu_s']:.2f}x | {r['plain_minflt']:,.0f} | {r['tuned_minflt']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def plain_main(args: argparse.Namespace) -> None:
    results = plain_rows(args.plain_rounds, args.threads, args.long_batch)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "plain_speed.json").write_text(json.dumps({"results": results}, indent=2))
    command = (
        f".venv/bin/python benchmarks/sequence_speed.py --plain --plain-rounds {args.plain_rounds} "
        f"--long-batch {args.long_batch} --threads {args.threads}"
    )
    write_block(args.docs, "plain", plain_markdown(results, command))
    print(f"wrote {args.out / 'plain_speed.json'} and the plain block of {args.docs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-long", action="store_true", help="leave out the 16,000-step workload")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument(
        "--original",
        type=Path,
        metavar="DIR",
        help="a checkout of github.com/rjbruin/flexconv: time the original code's step beside ours",
    )
    parser.add_argument("--child", nargs=3, metavar=("CASE", "IMPL", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help="plain processes against keep_freed_memory()")
    parser.add_argument("--plain-rounds", type=int, default=3)
    parser.add_argument("--long-batch", type=int, default=64, help="--plain: batch of the 16,000-step workload")
    parser.add_argument("--plain-child", nargs=3, metavar=("CASE", "MODE", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.plain_child:
        plain_child(args.plain_child[0], args.plain_child[1], int(args.plain_child[2]))
        return
    if args.plain:
        plain_main(args)
        return
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.original)
        return
    results = rows(args.repeats, args.threads, args.skip_long, args.original)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sequence_speed.json").write_text(json.dumps({"results": results, "earlier": EARLIER}, indent=2))
    command = f".venv/bin/python benchmarks/sequence_speed.py --repeats {args.repeats} --threads {args.threads}"
    if args.original:
        command += " --original <checkout of rjbruin/flexconv>"
    if not args.skip_long:
        write_block(args.docs, "sequence", markdown(results, command))
        print(f"wrote {args.out / 'sequence_speed.json'} and the sequence block of {args.docs}")


if __name__ == "__main__":
    main()
