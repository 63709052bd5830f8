#!/usr/bin/env bash
# The main job: trains an MLP with a local mixture-of-experts layer on Fashion-MNIST and prints
# test_accuracy=<float> at the end. Extra arguments go to `hive train-local` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target hive
exec build/release/tools/hive train-local "$@"
