"""``flexconv export <checkpoint> --onnx out.onnx``: the command line of
:func:`flexconv.train.export_command.export_checkpoint`, which prints its parity checks and fails on a mismatch.

    flexconv export runs/main_job/<run>/checkpoints/best.ckpt --onnx model.onnx
    flexconv export flextcn_mnist1d --onnx mnist1d.onnx
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from flexconv.train import export_command as library
from flexconv.train.checkpoints import CheckpointError


def main(argv: Sequence[str]) -> None:
    """``flexconv export <checkpoint> [--onnx OUT] [--batch B]``."""
    parser = argparse.ArgumentParser(prog="flexconv export", description=library.__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkpoint",
        help="a best.ckpt or last.ckpt of a flexconv run, a release file (.pt) or a "
        "released name (flextcn_mnist1d, ...)",
    )
    parser.add_argument("--onnx", type=Path, help="write the plain-convolution model to this ONNX file")
    parser.add_argument("--batch", type=int, default=2, help="batch size of the parity check (and the ONNX input)")
    args = parser.parse_args(list(argv))
    try:
        results = library.export_checkpoint(args.checkpoint, args.onnx, args.batch)
    except (CheckpointError, ValueError) as error:
        raise SystemExit(f"flexconv export: {error}") from None
    tolerance = library.PARITY_TOLERANCE * max(results["scale"], 1.0)
    checks = [("plain convolutions", results["max_abs_diff"])]
    if results["onnx_max_abs_diff"] is not None:
        checks.append(("ONNX (onnxruntime)", results["onnx_max_abs_diff"]))
        checks.append(
            (f"ONNX at input {results['onnx_other_shape']} (dynamic axes)", results["onnx_other_shape_max_abs_diff"])
        )
    print(f"input {results['input_shape']}, largest output {results['scale']:.4g}")
    for name, diff in checks:
        print(
            f"parity {name}: max |difference| = {diff:.3g} ({'ok' if diff <= tolerance else 'MISMATCH'}, "
            f"tolerance {tolerance:.1g})"
        )
    if results["onnx"]:
        note = "" if results["onnx_max_abs_diff"] is not None else " (onnxruntime not installed: not checked)"
        print(f"wrote {results['onnx']}{note}")
    if any(diff > tolerance for _, diff in checks):
        raise SystemExit("flexconv export: the exported model does not match the checkpoint's model")
