#!/usr/bin/env bash
# The main job: a whole swarm on loopback. It starts one DHT bootstrap node, 4 `hive serve`
# processes with 16 ffn experts each on an 8x8 grid, and one `hive train` that trains a
# Fashion-MNIST classifier with a decentralized MoE layer against them; it shows the trainer's
# progress, prints test_accuracy=<float> at the end and stops every process it started.
# Arguments go to `hive train` (see `hive train --help`); tools/swarm.sh lists the swarm's knobs.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target hive
exec tools/swarm.sh build/release/tools/hive "$@"
