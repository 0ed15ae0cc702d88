"""``flexconv list experiments|models|datasets``: the command line of :mod:`flexconv.train.catalog`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from flexconv.train.catalog import KINDS, datasets, experiments, models


def main(argv: Sequence[str]) -> None:
    """``flexconv list experiments|models|datasets``."""
    parser = argparse.ArgumentParser(prog="flexconv list", description="List what flexconv can train.")
    parser.add_argument("kind", choices=KINDS, help="what to list")
    args = parser.parse_args(list(argv))
    entries = {"experiments": experiments, "models": models, "datasets": datasets}[args.kind]()
    width = max(len(name) for name in entries)
    for name, description in entries.items():
        print(f"{name:<{width}}  {description}")
