#!/usr/bin/env bash
# Set up the environment (if needed), run the lint, format and type checks, then the whole test suite on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Each check prints its findings and stops the command if it has any (settings: pyproject.toml).
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
