"""Compiled against eager training steps, and what compiling costs while the masks widen.

    .venv/bin/python benchmarks/compile_speed.py [--models flextcn ...] [--repeats 5] [--threads 1]
        [--widen-steps 24] [--plain] [--layout-opt]

Per model (registered names; defaults FlexNet-7 on CIFAR-10 batch 64x3x32x32, the Fashion-MNIST FlexNet on
batch 64x1x28x28, FlexTCN-6 on sMNIST batch 64x1x784), one Adam step (forward, cross-entropy, backward,
optimiser step) with dropout on, at the initial masks:

* "eager": the model as it is; "compiled": the forward and loss under ``torch.compile(fullgraph=True)``
  (inductor), the optimiser step under ``torch.compile`` (torch's optimisers break their graph on
  purpose), crop sizes from :class:`flexconv.nn.StaticCrops` refreshed before each step. Times: minimum
  over ``--repeats`` interleaved rounds (``page.min_times``), in one process.
  Inductor runs with :func:`flexconv.nn.static.compile_options` (its layout optimisation off, as
  ``flexconv train compile=true`` runs it); ``--layout-opt`` keeps inductor's default (channels-last
  activations in any CPU graph with an ``nn.Conv``).
* "first compile": seconds of the first compiled step (tracing and code generation).
* Widening: ``--widen-steps`` compiled steps in which each layer's mask widens from its initial width to
  the whole grid, layer i starting i steps after layer i-1; the number of compilations (graphs that
  inductor built) and the seconds those steps took above a steady step.

``--plain`` runs without ``flexconv.malloc.keep_freed_memory()`` (a user's own script); by default it is
called before torch is imported, as the ``flexconv`` command does. Writes ``<out>/compile_speed.json``
and the ``compile`` block of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

PLAIN = "--plain" in sys.argv
if not PLAIN:
    from flexconv.malloc import keep_freed_memory

    keep_freed_memory()  # as the flexconv command does: before torch allocates anything

# Imported after keep_freed_memory() on purpose (it must run before torch allocates), hence the noqa: E402.
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch._inductor.compile_fx import compile_fx  # noqa: E402

from flexconv.models.registry import get_model  # noqa: E402
from flexconv.nn import FlexConv, StaticCrops  # noqa: E402
from flexconv.nn.static import compile_options  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from page import min_times, write_block  # noqa: E402

INPUTS = {"flexnet7": (3, 32, 32), "flexnet3": (1, 28, 28), "flextcn": (1, 784)}


class CountingInductor:
    """Inductor as a torch.compile backend that counts the graphs it builds, with ``options`` (inductor settings)."""

    def __init__(self, options: dict) -> None:
        self.graphs = 0
        self.options = options

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        return compile_fx(gm, example_inputs, config_patches=self.options)


def make_step(model, optimizer, x, y, compiled: bool, backend=None):
    def loss_of(inputs, labels):
        return F.cross_entropy(model(inputs), labels)

    loss_fn = torch.compile(loss_of, fullgraph=True, backend=backend) if compiled else loss_of
    opt_step = torch.compile(optimizer.step, backend=backend) if compiled else optimizer.step
    crops = StaticCrops(model) if compiled else None

    def step():
        if crops is not None:
            crops.refresh()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(x, y)
        loss.backward()
        opt_step()
        return loss

    return step, crops


def bench_model(name: str, batch: int, repeats: int, widen_steps: int, layout_opt: bool) -> dict:
    torch.manual_seed(0)
    shape = INPUTS[name]
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
    models = {kind: get_model(name) for kind in ("eager", "compiled")}
    models["compiled"].load_state_dict(models["eager"].state_dict())
    for model in models.values():
        model.train()
        with torch.no_grad():
            model.eval()(x[:1])  # fixes the grids
        model.train()
    counter = CountingInductor({} if layout_opt else compile_options())
    steps = {}
    for kind, model in models.items():
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)
        steps[kind], crops = make_step(model, optimizer, x, y, kind == "compiled", counter)
    start = time.perf_counter()
    steps["compiled"]()
    first_compile = time.perf_counter() - start
    times = min_times(steps, repeats)
    # widening: every mask from its width to 2 (the whole grid), layer i from step i on, over widen_steps // 2 steps
    model = models["compiled"]
    layers = [m for m in model.modules() if isinstance(m, FlexConv)]
    initial = [layer.mask.width.detach().clone() for layer in layers]
    graphs_before, extra, ramp = counter.graphs, 0.0, max(widen_steps // 2, 1)
    for t in range(widen_steps):
        for i, (layer, w0) in enumerate(zip(layers, initial)):
            progress = min(max((t - i) / ramp, 0.0), 1.0)
            layer.mask.width.data.copy_(w0 + (2.0 - w0) * progress)
        start = time.perf_counter()
        steps["compiled"]()
        extra += max(time.perf_counter() - start - times["compiled"], 0.0)
    full = all(layer._crop_sizes == layer.grid_sizes() for layer in layers)
    return {
        "model": name,
        "batch": batch,
        "layout_opt": layout_opt,
        "eager_s": times["eager"],
        "compiled_s": times["compiled"],
        "speedup": times["eager"] / times["compiled"],
        "first_compile_s": first_compile,
        "widen_steps": widen_steps,
        "widen_compilations": counter.graphs - graphs_before,
        "widen_compile_s": extra,
        "all_full_at_end": full,
    }


def render(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"Compiled training steps (`benchmarks/compile_speed.py --models {' '.join(args.models)} --repeats "
        f"{args.repeats} --threads {args.threads} --widen-steps {args.widen_steps}{' --plain' if PLAIN else ''}"
        f"{' --layout-opt' if args.layout_opt else ''}`; "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} thread(s), "
        f"{'without' if PLAIN else 'with'} `keep_freed_memory()`). One Adam step at the initial masks, dropout on; "
        'minimum over interleaved rounds in one process. "Graphs while widening": graphs inductor built while '
        "every mask widened to its whole grid (forward+backward graphs of the loss, counted separately), and the "
        "seconds those steps took above a steady step.",
        "",
        "| model | batch | eager step | compiled step | eager / compiled | first compile | graphs while widening | "
        "compile s while widening |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['eager_s'] * 1e3:.0f} ms | {r['compiled_s'] * 1e3:.0f} ms | "
            f"{r['speedup']:.2f}x | {r['first_compile_s']:.0f} s | {r['widen_compilations']} | "
            f"{r['widen_compile_s']:.0f} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(INPUTS), choices=list(INPUTS))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--widen-steps", type=int, default=24)
    parser.add_argument("--plain", action="store_true", help="without keep_freed_memory() (read before parsing)")
    parser.add_argument("--layout-opt", action="store_true", help="keep inductor's layout optimisation on")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--docs", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch._dynamo.config.recompile_limit = 64
    rows = []
    for name in args.models:
        rows.append(bench_model(name, args.batch, args.repeats, args.widen_steps, args.layout_opt))
        print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compile_speed.json").write_text(json.dumps(rows, indent=1))
    write_block(args.docs, "compile-plain" if PLAIN else "compile", render(rows, args))


if __name__ == "__main__":
    main()
