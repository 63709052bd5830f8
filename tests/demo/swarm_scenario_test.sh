#!/usr/bin/env bash
# One swarm scenario as a test: runs tools/swarm.sh (a DHT node, expert servers and a trainer on
# loopback) and passes when the trainer's final test accuracy reaches MIN_ACCURACY.
#
#   tests/demo/swarm_scenario_test.sh HIVE_BINARY MIN_ACCURACY [hive train options...]
#
# The scenario's faults come from the environment that tools/swarm.sh reads (SERVER_FLAGS,
# KILL_SERVER_AFTER_EPOCH, ...).
set -euo pipefail

hive="$1"
min_accuracy="$2"
shift 2
root="$(cd "$(dirname "$0")/../.." && pwd)"

output="$("$root/tools/swarm.sh" "$hive" "$@" | tee /dev/stderr)"
accuracy="$(sed -n 's/^test_accuracy=//p' <<<"$output")"
if [[ -z "$accuracy" ]]; then
  echo "FAIL: the trainer printed no test_accuracy line" >&2
  exit 1
fi
if [[ -n "${KILL_SERVER_AFTER_EPOCH:-}" ]] && ! grep -q "^swarm: killed" <<<"$output"; then
  echo "FAIL: the server was not killed while the trainer ran (training ended first?)" >&2
  exit 1
fi
if awk -v got="$accuracy" -v want="$min_accuracy" 'BEGIN { exit !(got >= want) }'; then
  echo "PASS: test_accuracy=$accuracy >= $min_accuracy" >&2
else
  echo "FAIL: test_accuracy=$accuracy < $min_accuracy" >&2
  exit 1
fi
