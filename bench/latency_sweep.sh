#!/usr/bin/env bash
# Training throughput against network latency: a swarm (one `hive dht`, SERVERS `hive serve`)
# in one Linux network namespace, `hive train` in another, joined by one veth pair whose two
# ends carry a `tc netem` delay. For every delay (and once more with packet loss) it starts a
# fresh swarm, trains --epochs epochs over the first --train-limit rows with --in-flight batches
# in flight, and reads the samples/s of the trainer's last epoch (later epochs start with the DHT
# lookups done and weigh the filling of the pipeline less). The result, with each
# point's ratio to the 0 ms point, goes to bench/results/latency_sweep.json. The goal the issue
# sets: with enough batches in flight, samples/s at 200 ms >= 80% of samples/s at 0 ms.
#
#   sudo bench/latency_sweep.sh HIVE_BINARY [--delays 0,50,100,200] [--loss-pct 1]
#       [--loss-delay-ms 100] [--in-flight 64] [--train-limit 60000] [--epochs 1] [--emulate]
#       [--output FILE]
#
# Delay: DELAY_MS is the round trip the link adds. Half of it is netem's delay on each veth end
# (each direction waits DELAY_MS/2), so it holds for replies as for requests. Loss: netem drops
# LOSS_PCT% of the packets on each end, i.e. in each direction.
#
# Environment (flags win; defaults in brackets): DELAYS_MS [0,50,100,200], LOSS_PCT [1],
# LOSS_DELAY_MS [100] (the delay of the run with loss; LOSS_PCT 0: no such run), IN_FLIGHT [64],
# TRAIN_LIMIT [60000, the whole set], EPOCHS [1], SERVERS [4], EXPERTS_PER_SERVER [16], GRID [8x8],
# HIDDEN [64], TRAIN_FLAGS (extra `hive train` flags), OUTPUT [bench/results/latency_sweep.json],
# LOG_DIR [a fresh temporary directory: every process's output].
# HIVE_LATENCY_SWEEP_NO_NETEM=1: for kernels without sch_netem; runs the 0 ms point alone, with
# no qdisc at all, and writes to a temporary file unless OUTPUT/--output says where.
# --emulate (or HIVE_LATENCY_SWEEP_EMULATE=1): for kernels without sch_netem; the same
# namespaces with a plain link, and the trainer holds every reply it gets (experts' and the
# DHT's) for DELAY_MS (`hive train --emulate-round-trip-ms`): what a trainer observes of a link
# with that round trip. It cannot drop packets, so there is no run with loss.
#
# Needs root (network namespaces), iproute2 and, unless told otherwise, the kernel's sch_netem:
# without it the script stops with exit 3 before it starts any process or writes any result.
# Exit 2: a bad argument. It uses no address outside the namespaces it creates (10.77.0.1 and
# 10.77.0.2 live only there), and on exit, Ctrl-C or SIGTERM it stops its processes and
# deletes its namespaces (which takes the veth pair with them).
set -euo pipefail

readonly bad_argument=2
readonly no_netem_here=3

die() {
  local code="$1"
  shift
  echo "latency_sweep: $*" >&2
  exit "$code"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

hive=""
delays="${DELAYS_MS:-0,50,100,200}"
loss_pct="${LOSS_PCT:-1}"
loss_delay_ms="${LOSS_DELAY_MS:-100}"
in_flight="${IN_FLIGHT:-64}"
epochs="${EPOCHS:-1}"
train_limit="${TRAIN_LIMIT:-60000}"
servers="${SERVERS:-4}"
experts_per_server="${EXPERTS_PER_SERVER:-16}"
grid="${GRID:-8x8}"
hidden="${HIDDEN:-64}"
output="${OUTPUT:-}"
no_netem="${HIVE_LATENCY_SWEEP_NO_NETEM:-0}"
emulate="${HIVE_LATENCY_SWEEP_EMULATE:-0}"

while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --emulate) emulate=1; shift ;;
    --delays | --loss-pct | --loss-delay-ms | --in-flight | --train-limit | --epochs | --output)
      (($# >= 2)) || die "$bad_argument" "$1 needs a value"
      case "$1" in
        --delays) delays="$2" ;;
        --loss-pct) loss_pct="$2" ;;
        --loss-delay-ms) loss_delay_ms="$2" ;;
        --in-flight) in_flight="$2" ;;
        --train-limit) train_limit="$2" ;;
        --epochs) epochs="$2" ;;
        --output) output="$2" ;;
      esac
      shift 2
      ;;
    -*) die "$bad_argument" "unknown option '$1' (--help lists them)" ;;
    *)
      [[ -z "$hive" ]] || die "$bad_argument" "a second binary '$1' after '$hive'"
      hive="$1"
      shift
      ;;
  esac
done

is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
[[ -n "$hive" ]] || die "$bad_argument" "the hive binary is missing: latency_sweep.sh HIVE_BINARY [options]"
[[ -x "$hive" ]] || die "$bad_argument" "'$hive' is not an executable file (the hive binary)"
hive="$(cd "$(dirname "$hive")" && pwd)/$(basename "$hive")"
[[ "$delays" =~ ^[0-9]+(,[0-9]+)*$ ]] ||
  die "$bad_argument" "delays '$delays': expected milliseconds joined by commas, e.g. 0,50,100,200"
if ! [[ "$loss_pct" =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v p="$loss_pct" 'BEGIN { exit !(p <= 100) }'; then
  die "$bad_argument" "loss '$loss_pct': expected a percentage from 0 to 100"
fi
for name in loss_delay_ms in_flight train_limit epochs servers experts_per_server hidden; do
  is_count "${!name}" || die "$bad_argument" "${name} '${!name}': expected a non-negative integer"
done
((in_flight >= 1 && train_limit >= 1 && epochs >= 1 && servers >= 1 && experts_per_server >= 1)) ||
  die "$bad_argument" "--in-flight, --train-limit, --epochs, SERVERS and EXPERTS_PER_SERVER must be at least 1"
[[ "$grid" =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || die "$bad_argument" "GRID '$grid': expected ROWSxCOLS, e.g. 8x8"
rows="${BASH_REMATCH[1]}"
cols="${BASH_REMATCH[2]}"
((servers * experts_per_server <= rows * cols)) ||
  die "$bad_argument" "$servers servers x $experts_per_server experts do not fit a $grid grid"
[[ "$no_netem" == 0 || "$no_netem" == 1 ]] ||
  die "$bad_argument" "HIVE_LATENCY_SWEEP_NO_NETEM '$no_netem': expected 0 or 1"
[[ "$emulate" == 0 || "$emulate" == 1 ]] ||
  die "$bad_argument" "HIVE_LATENCY_SWEEP_EMULATE '$emulate': expected 0 or 1"
((!(no_netem && emulate))) || die "$bad_argument" "--emulate and HIVE_LATENCY_SWEEP_NO_NETEM exclude each other"
((EUID == 0)) || die "$bad_argument" "network namespaces need root (run it with sudo)"
for tool in ip tc; do
  command -v "$tool" >/dev/null || die "$bad_argument" "'$tool' (iproute2) is required"
done

# The runs: "DELAY_MS LOSS_PCT" each.
runs=()
if ((no_netem)); then
  runs=("0 0")
  echo "latency_sweep: HIVE_LATENCY_SWEEP_NO_NETEM=1: the 0 ms point only, without netem" >&2
  [[ -n "$output" ]] || output="$(mktemp /tmp/hive-latency-sweep.XXXXXX.json)"
else
  IFS=, read -r -a delay_list <<<"$delays"
  for delay in "${delay_list[@]}"; do runs+=("$((10#$delay)) 0"); done
  if ((emulate)); then
    echo "latency_sweep: --emulate: the trainer holds replies; no run with loss" >&2
  elif awk -v p="$loss_pct" 'BEGIN { exit !(p > 0) }'; then
    runs+=("$loss_delay_ms $loss_pct")
  fi
  [[ -n "$output" ]] || output="bench/results/latency_sweep.json"
fi

suffix="$$"
srv_ns="hive-lat-srv-$suffix"
trn_ns="hive-lat-trn-$suffix"
probe_ns="hive-lat-probe-$suffix"
srv_if="hlat${suffix}s"
trn_if="hlat${suffix}t"
readonly srv_ip=10.77.0.1 trn_ip=10.77.0.2

pids=()     # the current swarm's processes
trainer=""  # the running `hive train`, if any
stop_swarm() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  local status=$?
  if [[ -n "$trainer" ]]; then
    kill -TERM "$trainer" 2>/dev/null || true
    wait "$trainer" 2>/dev/null || true
  fi
  stop_swarm
  # A namespace goes once no process is left in it; its veth end goes with it, and the peer end
  # with that. The link is deleted by name too, should the script stop between creating it and
  # moving it.
  local ns
  for ns in "$probe_ns" "$srv_ns" "$trn_ns"; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$srv_if" 2>/dev/null || true
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Before anything starts: is netem there? Tried on a throwaway namespace's loopback.
if ((!no_netem && !emulate)); then
  modprobe sch_netem 2>/dev/null || true
  ip netns add "$probe_ns"
  if ! probe_error="$(ip netns exec "$probe_ns" tc qdisc add dev lo root netem delay 1ms 2>&1)"; then
    die "$no_netem_here" "tc netem is not available in this kernel (module sch_netem): '$probe_error'." \
      "Nothing was started and nothing written. On a kernel with netem run it again; to check" \
      "the namespace plumbing alone, HIVE_LATENCY_SWEEP_NO_NETEM=1 runs the 0 ms point;" \
      "--emulate measures with the trainer holding its replies instead."
  fi
  ip netns del "$probe_ns"
fi

log_dir="${LOG_DIR:-$(mktemp -d /tmp/hive-latency-sweep.XXXXXX)}"
mkdir -p "$log_dir"
ip netns add "$srv_ns"
ip netns add "$trn_ns"
ip link add "$srv_if" type veth peer name "$trn_if"
ip link set "$srv_if" netns "$srv_ns"
ip link set "$trn_if" netns "$trn_ns"
ip -n "$srv_ns" addr add "$srv_ip/24" dev "$srv_if"
ip -n "$trn_ns" addr add "$trn_ip/24" dev "$trn_if"
for ns in "$srv_ns" "$trn_ns"; do ip -n "$ns" link set lo up; done
ip -n "$srv_ns" link set "$srv_if" up
ip -n "$trn_ns" link set "$trn_if" up
echo "latency_sweep: namespaces $srv_ns ($srv_ip) and $trn_ns ($trn_ip); logs in $log_dir" >&2

# netem on both ends: DELAY_MS/2 each way, LOSS_PCT% dropped each way.
set_link() {
  local half_us=$(($1 * 500)) loss="$2" pair ns dev
  for pair in "$srv_ns $srv_if" "$trn_ns $trn_if"; do
    read -r ns dev <<<"$pair"
    if awk -v p="$loss" 'BEGIN { exit !(p > 0) }'; then
      tc -n "$ns" qdisc replace dev "$dev" root netem delay "${half_us}us" loss "${loss}%"
    else
      tc -n "$ns" qdisc replace dev "$dev" root netem delay "${half_us}us"
    fi
  done
}

# A fresh swarm in the server namespace; sets initial_peers. Each process's stdout is read
# through a file descriptor: `read` blocks until the line that says it is ready (or fails at
# once when the process dies), so nothing waits on a timer.
start_swarm() {
  local tag="$1" dht_out server_out server served first rest
  exec {dht_out}< <(exec ip netns exec "$srv_ns" "$hive" dht --listen "$srv_ip:0" --log-period 60 \
    2>"$log_dir/$tag-dht.log")
  pids+=($!)
  read -r -u "$dht_out" _ initial_peers || die 1 "the DHT node failed, see $log_dir/$tag-dht.log"
  exec {dht_out}<&-
  for ((server = 0; server < servers; ++server)); do
    exec {server_out}< <(exec ip netns exec "$srv_ns" "$hive" serve --listen "$srv_ip:0" \
      --initial-peers "$initial_peers" --expert-pattern "ffn.[0:$rows].[0:$cols]" \
      --num-experts "$experts_per_server" --seed "$((server + 1))" --hidden-dim "$hidden" \
      --threads 1 --max-wait-ms 1 2>"$log_dir/$tag-server$server.log")
    pids+=($!)
    served=0
    while read -r -u "$server_out" first rest; do
      [[ "$first" == "serving" ]] && served=$((served + 1))
      [[ "$first" == "--initial-peers" ]] && break
    done
    exec {server_out}<&-
    ((served == experts_per_server)) ||
      die 1 "server $server started $served of $experts_per_server experts, see $log_dir/$tag-server$server.log"
  done
}

# "SAMPLES_PER_S TEST_ACCURACY FAILED_CALLS TOTAL_CALLS DROPPED_STEPS" of one finished run, read
# from the last progress line ("... test_acc A (N samples/s) calls failed F/T, D steps dropped")
# and the final `test_accuracy=` line.
parse_run() {
  local log="$1" out="$2" line samples accuracy calls dropped
  line="$(grep 'samples/s)' "$log" | tail -n 1)"
  samples="$(sed -n 's/.*(\([0-9.]*\) samples\/s).*/\1/p' <<<"$line")"
  calls="$(sed -n 's/.*calls failed \([0-9]*\)\/\([0-9]*\).*/\1 \2/p' <<<"$line")"
  dropped="$(sed -n 's/.*, \([0-9]*\) steps dropped.*/\1/p' <<<"$line")"
  accuracy="$(sed -n 's/^test_accuracy=//p' "$out")"
  [[ -n "$samples" && -n "$calls" && -n "$dropped" && -n "$accuracy" ]] ||
    die 1 "no final progress line or test_accuracy in $log and $out"
  echo "$samples $accuracy $calls $dropped"
}

results=()  # "DELAY LOSS SAMPLES ACCURACY FAILED TOTAL DROPPED"
printf '%8s %8s %9s %10s %9s %13s\n' delay_ms loss_pct in_flight samples/s test_acc failed_calls
for run in "${runs[@]}"; do
  read -r delay loss <<<"$run"
  tag="delay${delay}-loss${loss}"
  emulation=()
  if ((emulate)); then
    emulation=(--emulate-round-trip-ms "$delay")
  elif ((!no_netem)); then
    set_link "$delay" "$loss"
  fi
  start_swarm "$tag"
  # The trainer runs in the background so that a signal reaches the traps at once.
  # shellcheck disable=SC2086  # TRAIN_FLAGS is a list of flags
  ip netns exec "$trn_ns" "$hive" train --initial-peers "$initial_peers" --listen "$trn_ip:0" \
    --grid "$grid" --hidden "$hidden" --epochs "$epochs" --train-limit "$train_limit" \
    --in-flight "$in_flight" "${emulation[@]}" ${TRAIN_FLAGS:-} >"$log_dir/$tag-train.out" 2>"$log_dir/$tag-train.log" &
  trainer=$!
  wait "$trainer" || die 1 "hive train failed at $delay ms, $loss% loss; see $log_dir/$tag-train.log"
  trainer=""
  stop_swarm
  parsed="$(parse_run "$log_dir/$tag-train.log" "$log_dir/$tag-train.out")"
  read -r samples accuracy failed total dropped <<<"$parsed"
  printf '%8s %8s %9s %10s %9s %13s\n' "$delay" "$loss" "$in_flight" "$samples" "$accuracy" "$failed/$total"
  results+=("$delay $loss $samples $accuracy $failed $total $dropped")
done

# The JSON: one entry per run, each with its ratio to the 0 ms run without loss (null without
# one), and whether the 200 ms point keeps >= 80% of it.
write_json() {
  printf '%s\n' "${results[@]}" | awk -v netem="$((!no_netem && !emulate))" -v emulated="$emulate" \
    -v in_flight="$in_flight" \
    -v train_limit="$train_limit" -v epochs="$epochs" -v servers="$servers" -v experts="$experts_per_server" \
    -v grid="$grid" -v hidden="$hidden" -v cores="$(nproc)" -v kernel="$(uname -r)" '
    { delay[NR] = $1; loss[NR] = $2; sps[NR] = $3; acc[NR] = $4; failed[NR] = $5; total[NR] = $6;
      dropped[NR] = $7; if ($1 == 0 && $2 == 0) base = $3 }
    function ratio(i) { return base > 0 ? sprintf("%.4f", sps[i] / base) : "null" }
    END {
      printf "{\n  \"benchmark\": \"latency_sweep\",\n"
      printf "  \"link\": \"one veth pair between a server and a trainer network namespace; "
      if (emulated) {
        printf "delay_ms is the round trip the trainer adds by holding every reply it receives "
        printf "(hive train --emulate-round-trip-ms; this kernel has no tc netem)\",\n"
      } else {
        printf "delay_ms is the added round trip (netem delay_ms/2 on each end), loss_pct is dropped "
        printf "on each end (each direction)\",\n"
      }
      printf "  \"netem\": %s,\n", netem ? "true" : "false"
      printf "  \"emulated_round_trip\": %s,\n", emulated ? "true" : "false"
      printf "  \"setup\": {\"servers\": %d, \"experts_per_server\": %d, \"grid\": \"%s\", ", servers, experts, grid
      printf "\"hidden\": %d, \"train_limit\": %d, \"epochs\": %d, \"samples_per_s_of\": \"the last epoch\", \"cores\": %d, \"kernel\": \"%s\"},\n", hidden, train_limit, epochs, cores, kernel
      printf "  \"runs\": [\n"
      for (i = 1; i <= NR; ++i) {
        printf "    {\"delay_ms\": %d, \"loss_pct\": %s, \"in_flight\": %d, \"samples_per_s\": %s, ", delay[i], loss[i], in_flight, sps[i]
        printf "\"test_accuracy\": %s, \"failed_calls\": %d, \"calls\": %d, \"dropped_steps\": %d, ", acc[i], failed[i], total[i], dropped[i]
        printf "\"ratio_vs_0ms\": %s}%s\n", ratio(i), i < NR ? "," : ""
      }
      printf "  ],\n"
      goal = "null"; met = "null"
      for (i = 1; i <= NR; ++i) if (delay[i] == 200 && loss[i] == 0 && base > 0) {
        goal = ratio(i); met = sps[i] / base >= 0.8 ? "true" : "false"
      }
      printf "  \"goal\": {\"what\": \"samples_per_s at 200 ms >= 0.8 x at 0 ms\", \"ratio_at_200ms\": %s, \"met\": %s}\n", goal, met
      printf "}\n"
    }'
}
mkdir -p "$(dirname "$output")"
write_json >"$output.partial"
mv "$output.partial" "$output"
echo "latency_sweep: wrote $output" >&2
