#!/usr/bin/env bash
# Create or refresh the project's environment in .venv (idempotent; quick when nothing changed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.flexconv-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    # torch and torchvision first, as a matching pair (a CPU-only torch wheel cannot load PyPI's torchvision).
    .venv/bin/python -m pip install --quiet "torch>=2.4" "torchvision>=0.19"
    .venv/bin/python -m pip install --quiet -e ".[experiments,test]"
    touch "$stamp"
fi
