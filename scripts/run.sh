#!/usr/bin/env bash
# Set up the environment (if needed) and run the main job: train a FlexNet on offline data
# (MNIST-1D, generated locally), print the test accuracy, leave checkpoint and pictures in runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/flexconv train experiment=main_job "$@"
