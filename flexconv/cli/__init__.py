"""The ``flexconv`` command: one entry point, one module per sub-command.

    flexconv train experiment=<preset> key=value ...     train (Hydra overrides; --dry-run prints the config)
    flexconv evaluate <checkpoint> [key=value ...]        test a checkpoint
    flexconv crossres experiment=<preset> ...             cross-resolution protocol (paper Table 4)
    flexconv list experiments|models|datasets             what there is, one line each
    flexconv export <checkpoint> --onnx out.onnx          plain convolutions, ONNX, parity check
    flexconv profile --model|--experiment|--checkpoint    torch.profiler table and trace
    flexconv fit-kernel ...                               kernel-fitting experiment (paper Fig. 3)
    flexconv bench results [--fast]                       the results study -> docs/results.md

Every command answers ``--help``.

Each sub-command is a function ``(argv: list[str]) -> None`` in its own module of this package
(``train``, ``evaluate`` and ``crossres``: :mod:`flexconv.cli.train`), which parses the arguments and
calls the library functions that do the work; this file only dispatches, so importing it stays cheap.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Optional

from flexconv.malloc import keep_freed_memory

COMMANDS = {
    "train": ("flexconv.cli.train", "train_main", "train a model (Hydra overrides, e.g. experiment=mnist1d_flextcn)"),
    "evaluate": ("flexconv.cli.train", "evaluate_main", "evaluate a checkpoint on its test set"),
    "release": (
        "flexconv.cli.release",
        "main",
        "turn a run's checkpoint into a released checkpoint (flexconv/checkpoints)",
    ),
    "crossres": (
        "flexconv.cli.train",
        "crossres_main",
        "cross-resolution protocol: train at source, test at target, fine-tune",
    ),
    "list": ("flexconv.cli.catalog", "main", "list experiments, models or datasets with one line each"),
    "export": ("flexconv.cli.export", "main", "export a checkpoint to plain convolutions / ONNX, with a parity check"),
    "profile": ("flexconv.cli.profile", "main", "profile training steps of a model, experiment or checkpoint"),
    "fit-kernel": ("flexconv.cli.fit_kernel", "main", "fit Gabor/random/image kernels with kernel networks"),
    "bench": ("flexconv.cli.results", "main", "run the results study (`flexconv bench results --fast`)"),
}


def usage() -> str:
    lines = ["usage: flexconv <command> [args]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "`flexconv <command> --help` describes each command."]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.exit(f"flexconv: unknown command {name!r}\n\n{usage()}")
    module_name, function, _ = COMMANDS[name]
    keep_freed_memory()  # large tensors are reused between steps instead of page-faulted in again
    getattr(importlib.import_module(module_name), function)(rest)
