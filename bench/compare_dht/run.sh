#!/usr/bin/env bash
# hive's DHT side by side with the reference implementations, on this machine:
#   hivemind  hivemind's DHT (PyPI wheel, in /opt/hivemind-venv) under hivemind's
#             benchmarks/benchmark_dht.py workload (hivemind_dht_benchmark.py), 3 runs, between
#             3 runs of `dht_bench --scenario hivemind` before and 3 after, then 3 more of
#             dht_bench killing 1 peer as hivemind does (hivemind-one-victim);
#   opendht   OpenDHT (Debian's python3-opendht) on dht_bench's latency workload (3 runs each,
#             alternating with `dht_bench --scenario latency` at the same counts) and on the
#             burst-join read-after-write test (opendht_reference.py, 10 fresh swarms per
#             setting), next to 10 repeats of the test
#             DhtSwarm.EveryKeyStoredRightAfterABurstJoinIsReadBackAtOnce (unchanged).
# Writes bench/results/dht_vs_hivemind.json and bench/results/dht_vs_opendht.json (assemble.py);
# every run's raw JSON and log stay in $RUN_DIR.
#
#   bench/compare_dht/run.sh                 # setup (only what is missing), build, both comparisons
#   bench/compare_dht/run.sh setup           # only install and build
#   bench/compare_dht/run.sh hivemind        # or: opendht, hivemind-one-victim
#
# Each measurement first waits (checking every minute; at most 4 minutes for one measurement and
# 15 minutes for the whole script) for the 1-minute load average to fall below $QUIET_LOAD, then
# runs anyway; the load before and after, and the wait, are recorded per measurement.
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE="$ROOT/bench/compare_dht"
BUILD_DIR=${BUILD_DIR:-/tmp/build-dhtcmp}
VENV=${VENV:-/opt/hivemind-venv}
HIVEMIND_VERSION=${HIVEMIND_VERSION:-1.1.12}
RUN_DIR=${RUN_DIR:-/tmp/dhtcmp-runs/$(date -u +%Y%m%dT%H%M%SZ)}
QUIET_LOAD=${QUIET_LOAD:-1.0}
MAX_WAIT_S=${MAX_WAIT_S:-240}
WAIT_BUDGET_S=${WAIT_BUDGET_S:-900}
RUNS=${RUNS:-3}
BURST_TRIALS=${BURST_TRIALS:-10}
# The latency workload for both sides: dht_bench's defaults are 1000 ops and 2000 per ops/s level
# at N = 20, 100, 1000; OpenDHT's swarm is all Python-driven runners in one process, so both
# sides run the smaller counts below.
LAT_NODES=${LAT_NODES:-20,100}
LAT_OPS=${LAT_OPS:-200}
LAT_TPUT_OPS=${LAT_TPUT_OPS:-500}
mkdir -p "$RUN_DIR"

log() { echo "[compare_dht $(date -u +%H:%M:%S)] $*" >&2; }

setup() {
  local apt_missing=()
  /usr/bin/python3 -c 'import opendht' 2>/dev/null || apt_missing+=(python3-opendht)
  /usr/bin/python3 -c 'import torch' 2>/dev/null || apt_missing+=(python3-torch)
  /usr/bin/python3 -c 'import ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
  if [ ${#apt_missing[@]} -gt 0 ]; then
    log "apt-get install ${apt_missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  fi
  if ! "$VENV/bin/python" -c "import hivemind, sys; sys.exit(hivemind.__version__ != '$HIVEMIND_VERSION')" 2>/dev/null; then
    log "hivemind $HIVEMIND_VERSION into $VENV (system site packages: Debian's torch)"
    [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$VENV"
    # hivemind 1.1.11's wheel on PyPI ships a macOS arm64 p2pd (its DHT cannot start on x86-64
    # Linux) and 1.1.10.post2 is only an sdist whose build downloads p2pd: 1.1.12 is the release
    # with a manylinux x86-64 wheel. numpy stays Debian's (torch 1.13 is built against numpy 1.x).
    "$VENV/bin/pip" install -q --no-deps "hivemind==$HIVEMIND_VERSION"
    "$VENV/bin/pip" install -q -c <(echo "numpy==$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')") \
      PyYAML 'numpy>=1.17' 'scipy>=1.2.1' 'prefetch_generator>=1.0.1' 'msgpack>=0.5.6' sortedcontainers \
      'uvloop>=0.14.0' 'grpcio-tools>=1.33.2' 'protobuf>=5.29.0' 'configargparse>=1.2.3' 'py-multihash>=0.2.3' \
      'cryptography>=3.4.6' 'pydantic>=2.0.0' 'packaging>=20.9' 'varint>=1.0.2' 'base58>=1.0.2' \
      'netaddr>=1.3.0' 'idna>=3.10' 'py-cid>=0.3.0'
  fi
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    # The release preset's cache variables, without CUDA, in a build directory of our own.
    cmake -S "$ROOT" -B "$BUILD_DIR" -GNinja -DCMAKE_BUILD_TYPE=Release -DHIVE_CUDA=OFF >/dev/null
  fi
  cmake --build "$BUILD_DIR" -j1 --target dht_bench dht_swarm_test >/dev/null
}

# Waits for a quiet machine (1-minute load below $QUIET_LOAD), checking every minute, at most
# $MAX_WAIT_S per measurement and $WAIT_BUDGET_S over the whole script (the total is kept in
# $RUN_DIR/.waited_s); prints the seconds waited and whether the machine was quiet at the start.
wait_quiet() {
  local waited=0 total
  total=$(cat "$RUN_DIR/.waited_s" 2>/dev/null || echo 0)
  while awk -v q="$QUIET_LOAD" '{exit !($1 >= q)}' /proc/loadavg && [ "$waited" -lt "$MAX_WAIT_S" ] &&
        [ $((total + waited)) -lt "$WAIT_BUDGET_S" ]; do
    log "load $(cut -d' ' -f1-3 /proc/loadavg) >= $QUIET_LOAD: waiting ($waited s so far, $((total + waited)) s in all)"
    sleep 60
    waited=$((waited + 60))
  done
  echo $((total + waited)) >"$RUN_DIR/.waited_s"
  local quiet=true
  awk -v q="$QUIET_LOAD" '{exit !($1 >= q)}' /proc/loadavg && quiet=false
  echo "$waited $quiet"
}

# measure NAME CMD...: runs CMD, logging to $RUN_DIR/NAME.log, with the load before and after
# (and the wait for quiet) in $RUN_DIR/NAME.meta.json. A measurement that finished there before
# (exit 0) is not run again: `RUN_DIR=... run.sh` resumes.
measure() {
  local name=$1; shift
  if grep -qs '"exit_code": 0,' "$RUN_DIR/$name.meta.json"; then
    log "$name: done in $RUN_DIR already"  # a rerun with the same RUN_DIR resumes
    return
  fi
  read -r waited quiet < <(wait_quiet)
  local before after start end rc=0
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  log "$name (load $before)"
  "$@" >"$RUN_DIR/$name.log" 2>&1 || rc=$?
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  end=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  printf '{"name": "%s", "started": "%s", "ended": "%s", "exit_code": %d, "load_before": [%s], "load_after": [%s], "waited_for_quiet_s": %d, "quiet_when_started": %s}\n' \
    "$name" "$start" "$end" "$rc" "${before// /, }" "${after// /, }" "$waited" "$quiet" >"$RUN_DIR/$name.meta.json"
  log "$name done (exit $rc, load $after)"
}

compare_hivemind() {
  for i in $(seq 1 "$RUNS"); do
    measure "ours_hivemind_before_$i" "$BUILD_DIR/bench/dht_bench" --scenario hivemind --json "$RUN_DIR/ours_hivemind_before_$i.json"
  done
  for i in $(seq 1 "$RUNS"); do
    measure "hivemind_$i" "$VENV/bin/python" "$HERE/hivemind_dht_benchmark.py" --json "$RUN_DIR/hivemind_$i.json"
  done
  for i in $(seq 1 "$RUNS"); do
    measure "ours_hivemind_after_$i" "$BUILD_DIR/bench/dht_bench" --scenario hivemind --json "$RUN_DIR/ours_hivemind_after_$i.json"
  done
  one_victim
}

# dht_bench kills round(0.1 * 16) = 2 peers, hivemind's benchmark int(0.1 * 16) = 1: with
# --failure-rate 0.0625 dht_bench kills 1, as hivemind does.
one_victim() {
  for i in $(seq 1 "$RUNS"); do
    measure "oneVictim_hivemind_$i" "$BUILD_DIR/bench/dht_bench" --scenario hivemind --failure-rate 0.0625 \
      --json "$RUN_DIR/oneVictim_hivemind_$i.json"
  done
  /usr/bin/python3 "$HERE/assemble.py" hivemind "$RUN_DIR" "$ROOT/bench/results/dht_vs_hivemind.json"
}

compare_opendht() {
  local lat=(--nodes "$LAT_NODES" --ops "$LAT_OPS" --throughput-ops "$LAT_TPUT_OPS" --in-flight 8,64)
  for i in $(seq 1 "$RUNS"); do  # alternating, so both sides see similar load
    measure "ours_latency_$i" "$BUILD_DIR/bench/dht_bench" --scenario latency "${lat[@]}" \
      --json "$RUN_DIR/ours_latency_$i.json"
    measure "opendht_latency_$i" /usr/bin/python3 "$HERE/opendht_reference.py" --part latency "${lat[@]}" \
      --json "$RUN_DIR/opendht_latency_$i.json"
  done
  # The burst-join test: every repeat is a fresh swarm, on both sides.
  measure ours_burst "$BUILD_DIR/tests/dht_swarm_test" \
    --gtest_filter=DhtSwarm.EveryKeyStoredRightAfterABurstJoinIsReadBackAtOnce --gtest_repeat="$BURST_TRIALS"
  measure opendht_burst /usr/bin/python3 "$HERE/opendht_reference.py" --part burst --burst-delays 0,0.5,1,5 \
    --burst-trials "$BURST_TRIALS" --json "$RUN_DIR/opendht_burst.json"
  measure opendht_burst_one_writer /usr/bin/python3 "$HERE/opendht_reference.py" --part burst --burst-delays 0 \
    --burst-trials "$BURST_TRIALS" --burst-writer one --burst-keys 100 --json "$RUN_DIR/opendht_burst_one_writer.json"
  # OpenDHT limits requests per source address, and here every node is 127.0.0.1: the same test
  # with the limits off (setRateLimit(-1, -1)). (Giving each node its own 127.0.0.x instead,
  # --addresses many, broke OpenDHT's swarm here: nodes stayed "replied: never" to each other.)
  measure opendht_burst_unlimited /usr/bin/python3 "$HERE/opendht_reference.py" --part burst \
    --burst-delays 0,1 --burst-trials "$BURST_TRIALS" --unlimited --json "$RUN_DIR/opendht_burst_unlimited.json"
  /usr/bin/python3 "$HERE/assemble.py" opendht "$RUN_DIR" "$ROOT/bench/results/dht_vs_opendht.json"
}

what=${1:-all}
log "run directory $RUN_DIR"
setup
case "$what" in
  setup) ;;
  hivemind) compare_hivemind ;;
  hivemind-one-victim) one_victim ;;
  opendht) compare_opendht ;;
  all) compare_hivemind; compare_opendht ;;
  *) echo "usage: $0 [all|setup|hivemind|hivemind-one-victim|opendht]" >&2; exit 2 ;;
esac
