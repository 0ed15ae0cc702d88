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
    .venv/bin/python -m pip install --quiet -e ".[experiments,test,dev]"
    touch "$stamp"
fi
# Fashion-MNIST (offline studies, the released FlexNet's accuracy test): Debian's package, when this
# machine can install it (root with apt-get). Best effort: without it those tests and studies are skipped.
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null \
        && [ -z "${FLEXCONV_NO_APT:-}" ]; then
    echo "setup: installing Fashion-MNIST (apt-get install dataset-fashion-mnist; FLEXCONV_NO_APT=1 skips this)"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist > /dev/null 2>&1 \
        || { apt-get update -q > /dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist > /dev/null 2>&1; }; } \
        || echo "setup: could not install dataset-fashion-mnist; the Fashion-MNIST tests will be skipped"
fi
