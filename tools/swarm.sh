#!/usr/bin/env bash
# Runs a whole swarm on loopback with an already built `hive` binary: one DHT bootstrap node,
# SERVERS `hive serve` processes with EXPERTS_PER_SERVER ffn experts each on a GRID grid, then
# one `hive train` against them. Prints the trainer's progress and its final
# `test_accuracy=...` line, and stops every process it started, whatever happens.
#
#   tools/swarm.sh HIVE_BINARY [hive train options...]
#
# Environment (defaults in brackets): SERVERS [4], EXPERTS_PER_SERVER [16], GRID [8x8],
# HIDDEN [64], SERVER_LR [5e-4], SERVER_FLAGS (extra `hive serve` flags, e.g.
# "--fail-fraction 0.1"), KILL_SERVER_AFTER_EPOCH (SIGKILL the last server once the trainer
# has finished this epoch), LOG_DIR [a fresh temporary directory: every process's stderr].
set -euo pipefail

hive="$1"
shift
servers="${SERVERS:-4}"
experts_per_server="${EXPERTS_PER_SERVER:-16}"
grid="${GRID:-8x8}"
hidden="${HIDDEN:-64}"
server_lr="${SERVER_LR:-5e-4}"
log_dir="${LOG_DIR:-$(mktemp -d /tmp/hive-swarm.XXXXXX)}"
read -r -a server_flags <<<"${SERVER_FLAGS:-}"
mkdir -p "$log_dir"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

# Each process's stdout is read through a file descriptor: `read` blocks until the line that
# says the process is ready, so nothing waits on a timer.
exec {dht_out}< <(exec "$hive" dht --listen 127.0.0.1:0 --log-period 60 2>"$log_dir/dht.log")
pids+=($!)
read -r -u "$dht_out" _ initial_peers || { echo "swarm: the DHT node failed, see $log_dir/dht.log" >&2; exit 1; }
echo "swarm: DHT node at $initial_peers (logs in $log_dir)" >&2

# "8x8" -> "ffn.[0:8].[0:8]", any number of dimensions.
pattern="ffn"
IFS=x read -r -a dims <<<"$grid"
for size in "${dims[@]}"; do pattern+=".[0:$size]"; done
for ((server = 0; server < servers; ++server)); do
  exec {server_out}< <(exec "$hive" serve --listen 127.0.0.1:0 --initial-peers "$initial_peers" \
    --expert-pattern "$pattern" --num-experts "$experts_per_server" \
    --seed "$((server + 1))" --hidden-dim "$hidden" --lr "$server_lr" --threads 1 \
    --max-wait-ms 1 "${server_flags[@]}" 2>"$log_dir/server$server.log")
  pids+=($!)
  served=0
  while read -r -u "$server_out" first rest; do
    [[ "$first" == "serving" ]] && served=$((served + 1))
    [[ "$first" == "--initial-peers" ]] && break
  done
  if ((served != experts_per_server)); then
    echo "swarm: server $server started $served experts, see $log_dir/server$server.log" >&2
    exit 1
  fi
done
echo "swarm: $servers servers with $experts_per_server experts each on a $grid grid" >&2

train=("$hive" train --initial-peers "$initial_peers" --grid "$grid" --hidden "$hidden" "$@")
if [[ -z "${KILL_SERVER_AFTER_EPOCH:-}" ]]; then
  "${train[@]}" &
else
  # The fault lands at a point in training, not at a clock time: the trainer's progress lines
  # (stderr) pass through a reader that SIGKILLs the last server once epoch
  # KILL_SERVER_AFTER_EPOCH has ended, and says so on stdout among the trainer's lines, so a
  # test can see it came before the end. (Through a pipe the progress bar logs lines instead of
  # redrawing one.)
  victim="${pids[-1]}"
  kill_after_epoch() {
    local line killed=false
    while IFS= read -r line; do
      printf '%s\n' "$line" >&2
      if [[ $killed == false && "$line" == "epoch $KILL_SERVER_AFTER_EPOCH/"*" test_acc "* ]]; then
        killed=true
        kill -KILL "$victim" 2>/dev/null && echo "swarm: killed the last server (pid $victim) after epoch $KILL_SERVER_AFTER_EPOCH"
      fi
    done
  }
  "${train[@]}" 2> >(kill_after_epoch) &
fi
trainer=$!
wait "$trainer"
