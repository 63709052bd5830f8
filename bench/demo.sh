#!/usr/bin/env bash
# The README demo's three scenarios at full length, with the numbers written to
# bench/results/demo.json: all servers healthy; 10% of expert calls failing (`hive serve
# --fail-fraction 0.1` on every server); one of the 4 servers killed (SIGKILL) halfway through
# training. Uses the release build of `hive` (tools/demo.sh builds it).
#
#   bench/demo.sh [hive train options...]
set -euo pipefail
cd "$(dirname "$0")/.."
hive=build/release/tools/hive
[[ -x "$hive" ]] || { echo "bench/demo.sh: build $hive first (tools/demo.sh does)" >&2; exit 1; }

results=()
run() {
  local name="$1"
  shift
  local started ended output
  started=$(date +%s.%N)
  output="$(env "$@" tools/swarm.sh "$hive" "${train_args[@]}" 2>&1 | tee /dev/stderr)"
  ended=$(date +%s.%N)
  local accuracy last
  accuracy="$(sed -n 's/^test_accuracy=//p' <<<"$output")"
  last="$(grep 'test_acc ' <<<"$output" | tail -1)"
  # "... test_acc 0.8820 (15411 samples/s) calls failed 12/129205, 0 steps dropped"
  local samples failed calls dropped killed=false
  samples="$(sed -n 's/.*(\([0-9]*\) samples\/s).*/\1/p' <<<"$last")"
  failed="$(sed -n 's/.*calls failed \([0-9]*\)\/.*/\1/p' <<<"$last")"
  calls="$(sed -n 's/.*calls failed [0-9]*\/\([0-9]*\).*/\1/p' <<<"$last")"
  dropped="$(sed -n 's/.*, \([0-9]*\) steps dropped.*/\1/p' <<<"$last")"
  grep -q '^swarm: killed' <<<"$output" && killed=true
  results+=("$(printf '{"scenario": "%s", "test_accuracy": %s, "wall_seconds": %.1f, "last_epoch_samples_per_second": %s, "failed_calls": %s, "calls": %s, "dropped_steps": %s, "server_killed": %s}' \
    "$name" "${accuracy:-null}" "$(awk -v a="$started" -v b="$ended" 'BEGIN { print b - a }')" "${samples:-null}" \
    "${failed:-null}" "${calls:-null}" "${dropped:-null}" "$killed")")
}

train_args=("$@")
run all_servers_healthy
run ten_percent_of_calls_fail "SERVER_FLAGS=--fail-fraction 0.1"
# Killed once half the epochs are done (hive train's default is 8; the last --epochs given wins).
epochs=8
for ((i = 0; i + 1 < ${#train_args[@]}; ++i)); do
  [[ "${train_args[i]}" == "--epochs" ]] && epochs="${train_args[i + 1]}"
done
run one_server_killed_halfway "KILL_SERVER_AFTER_EPOCH=$((epochs / 2 > 0 ? epochs / 2 : 1))"

mkdir -p bench/results
{
  echo "{"
  echo "  \"machine\": \"$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)\","
  echo "  \"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"train_args\": \"${train_args[*]:-}\","
  echo "  \"runs\": ["
  for ((i = 0; i < ${#results[@]}; ++i)); do
    sep=","; ((i == ${#results[@]} - 1)) && sep=""
    echo "    ${results[i]}$sep"
  done
  echo "  ]"
  echo "}"
} >bench/results/demo.json
cat bench/results/demo.json
