"""``flexconv release``: the command line of :func:`flexconv.train.release.release`.

    flexconv release runs/main_job/<time>/checkpoints/best.ckpt --name flextcn_mnist1d \\
        --command "flexconv train experiment=main_job"
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from flexconv.models.pretrained import CHECKPOINT_DIR
from flexconv.train import release as library
from flexconv.train.checkpoints import CheckpointError


def main(argv: Sequence[str]) -> None:
    """``flexconv release <checkpoint> --name <name> --command "flexconv train ..." [--out-dir DIR]``."""
    parser = argparse.ArgumentParser(prog="flexconv release", description=library.__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a finished run's checkpoints/best.ckpt (or last.ckpt)")
    parser.add_argument("--name", required=True, help="the released name (get_model(name, pretrained=True))")
    parser.add_argument("--command", required=True, help="the exact `flexconv train ...` command of the run")
    parser.add_argument("--out-dir", default=str(CHECKPOINT_DIR), help="where <name>.pt goes (default: the package's)")
    args = parser.parse_args(list(argv))
    try:
        entry = library.release(args.checkpoint, args.name, args.command, args.out_dir)
    except (CheckpointError, ValueError, RuntimeError) as error:
        raise SystemExit(f"flexconv release: {error}") from error
    print(f"released {args.name}: test accuracy {entry.test_acc:.2%}, {entry.params:,} parameters")
    print(f"add to flexconv.models.pretrained.RELEASES:\n        {entry!r},")
