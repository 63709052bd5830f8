#!/usr/bin/env python3
"""OpenDHT (Debian's python3-opendht) on hive's DHT workloads, for a side-by-side with
`dht_bench --scenario latency` (bench/dht_bench/latency_scenario.cpp) and the burst-join test
(DhtSwarm.EveryKeyStoredRightAfterABurstJoinIsReadBackAtOnce in tests/dht/dht_swarm_test.cpp).

Every node is an opendht.DhtRunner in this one process (each runner has its own threads), bound
to a loopback address. Two parts:

latency  N nodes (--nodes, e.g. 20,100), each bootstrapping through up to 4 random earlier nodes;
         then, as hive's latency scenario: `ops` fresh keys ("get.<hex>") and `ops` more
         ("latest.<hex>") stored from random nodes other than node 0 (8 in flight); from node 0,
         one at a time: `ops` puts of fresh keys, `ops` gets of the "get." keys (first get),
         the same gets again, and `ops` full gets of the "latest." keys; then ops/s with 8 and 64
         operations in flight (`throughput_ops` each of put, get, full get of fresh keys other
         nodes stored). Values are 32 bytes, keys are the SHA-1 of the key string (InfoHash.get).
         What counts as done:
           put       put()'s done callback (OpenDHT announces to the 8 nearest nodes it finds);
           get       the first value that arrives with the expected bytes (the get callback then
                     returns False, which ends OpenDHT's search) or the done callback;
           full get  get()'s done callback: OpenDHT's search ran to completion (nearest nodes
                     asked), the analogue of hive's `latest` get (a crawl of the nearest nodes).
burst    --burst-nodes nodes: --burst-seeds seeds join one by one, then all the others bootstrap
         at once from one or two random seeds; after --burst-delays seconds (0 = immediately),
         --burst-keys keys are put, each from a random node (--burst-writer random, as hive's test)
         or all from one burst-joined node (--burst-writer one), all at once; once every put is done
         (or --op-timeout passes), each key is read from another random node, all at once. A read
         succeeds when the get returns exactly the stored bytes. OpenDHT has no "bootstrap done"
         signal; hive's test waits for every bootstrap to finish (a few hundred ms), so delays of
         0, 1 and more seconds are measured, each on a fresh swarm.

--addresses: `one` binds every node to 127.0.0.1 (as hive's benchmarks and tests do); `many`
gives node i its own loopback address 127.0.<i/250>.<i%250+1> (OpenDHT rate-limits requests per
source IP address; with one address every node looks like the same peer to every other).
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import deque

import opendht as dht

VALUE_BYTES = 32


def load_average() -> list[float]:
    return list(os.getloadavg())


def opendht_version() -> str:
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-opendht"], capture_output=True,
                              text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def address_of(i: int, mode: str) -> str:
    return "127.0.0.1" if mode == "one" else f"127.0.{i // 250}.{i % 250 + 1}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)  # nearest rank, as dht_bench's latency_of
    return ordered[min(max(math.ceil(q * len(ordered)), 1), len(ordered)) - 1]


def latency(ms: list[float]) -> dict:
    return {"count": len(ms), "p50_ms": percentile(ms, 0.50), "p99_ms": percentile(ms, 0.99),
            "mean_ms": statistics.fmean(ms) if ms else 0.0, "max_ms": max(ms) if ms else 0.0}


def random_hex(rng: random.Random, nbytes: int) -> str:
    return "".join(f"{rng.randrange(256):02x}" for _ in range(nbytes))


# Every swarm ever made stays referenced until the process ends with os._exit(): a DhtRunner's
# destructor joins its threads while holding the GIL that their callbacks may be waiting for (a
# deadlock seen here once in about 50 swarms).
_SWARMS: list = []


class Swarm:
    def __init__(self, addresses: str, unlimited: bool):
        _SWARMS.append(self)
        self.addresses = addresses
        self.unlimited = unlimited
        self.nodes: list[dht.DhtRunner] = []
        self.ports: list[int] = []

    def add(self) -> int:
        i = len(self.nodes)
        config = dht.DhtConfig()
        if self.unlimited:
            config.setRateLimit(-1, -1)
        runner = dht.DhtRunner()
        runner.run(ipv4=address_of(i, self.addresses), port=0, config=config)
        self.nodes.append(runner)
        self.ports.append(runner.getBound().getPort())
        return i

    def bootstrap(self, node: int, through: list[int]) -> None:
        for peer in through:
            self.nodes[node].bootstrap(address_of(peer, self.addresses), str(self.ports[peer]))

    def routing_table_size(self, node: int) -> int:
        """Only while no operation is outstanding: the binding calls getRoutingTablesLog holding
        the GIL, and it waits for the runner's lock, which a runner thread holds while it waits
        for the GIL to run a late callback (a deadlock seen here)."""
        import socket
        log = self.nodes[node].getRoutingTablesLog(socket.AF_INET)
        return sum(1 for line in log.splitlines() if line.strip().startswith("Node "))


# --- single operations, each returning a waitable -------------------------------------------------

class Op:
    """One put or get in flight: `wait()` returns (ok, found_value_or_None, ms)."""

    def __init__(self):
        self.event = threading.Event()
        self.start = time.perf_counter()
        self.ms = 0.0
        self.ok = False
        self.values: list[bytes] = []

    def finish(self, ok: bool) -> None:
        if not self.event.is_set():
            self.ms = (time.perf_counter() - self.start) * 1000
            self.ok = ok
            self.event.set()

    def wait(self, timeout: float) -> "Op":
        if not self.event.wait(max(timeout, 0.0)):
            self.ms = (time.perf_counter() - self.start) * 1000  # not done: counted as failed
        return self


def put(node: dht.DhtRunner, key: str, value: bytes) -> Op:
    op = Op()
    node.put(dht.InfoHash.get(key), dht.Value(value), done_cb=lambda ok, nodes: op.finish(ok))
    return op


def get(node: dht.DhtRunner, key: str, expected: bytes | None, full: bool) -> Op:
    """full=False: done at the first value with the expected bytes (the search then stops)."""
    op = Op()

    def on_value(value) -> bool:
        data = bytes(value.data)
        op.values.append(data)
        if not full and data == expected:
            op.finish(True)
            return False
        return True

    def on_done(ok, nodes) -> None:
        op.finish(bool(op.values))

    node.get(dht.InfoHash.get(key), get_cb=on_value, done_cb=on_done)
    return op


def found(op: Op, expected: bytes) -> str:
    if expected in op.values:
        return "found"
    return "wrong_value" if op.values else "missing"


def run_in_flight(count: int, in_flight: int, issue, check, timeout: float) -> float:
    window: deque = deque()
    nxt = 0
    start = time.perf_counter()
    while nxt < count and len(window) < in_flight:
        window.append((nxt, issue(nxt)))
        nxt += 1
    while window:
        index, op = window.popleft()
        check(index, op.wait(timeout))
        if nxt < count:
            window.append((nxt, issue(nxt)))
            nxt += 1
    return count / (time.perf_counter() - start)


def tally(ops: list[tuple[Op, bytes]]) -> dict:
    out = {"found": 0, "wrong_value": 0, "missing": 0}
    for op, expected in ops:
        out[found(op, expected)] += 1
    return out


# --- latency --------------------------------------------------------------------------------------

def store_from_others(swarm: Swarm, count: int, rng: random.Random, tag: str, timeout: float):
    keys = [f"{tag}.{random_hex(rng, 8)}" for _ in range(count)]
    values = [random_hex(rng, (VALUE_BYTES + 1) // 2)[:VALUE_BYTES].encode() for _ in range(count)]
    writers = [1 + rng.randrange(len(swarm.nodes) - 1) for _ in range(count)]
    failed = [0]

    def check(i, op):
        failed[0] += 0 if op.ok else 1
    run_in_flight(count, 8, lambda i: put(swarm.nodes[writers[i]], keys[i], values[i]), check, timeout)
    return keys, values, failed[0]


def run_latency(nodes: int, args) -> dict:
    rng = random.Random(args.seed + nodes)
    swarm = Swarm(args.addresses, args.unlimited)
    join_start = time.perf_counter()
    for i in range(nodes):
        swarm.add()
        if i:
            swarm.bootstrap(i, rng.sample(range(i), min(4, i)))
    # No bootstrap-done signal: wait until node 0 knows min(nodes - 1, 8) nodes, then settle.
    deadline = time.perf_counter() + 30
    while swarm.routing_table_size(0) < min(nodes - 1, 8) and time.perf_counter() < deadline:
        time.sleep(0.1)
    join_s = time.perf_counter() - join_start
    rt = swarm.routing_table_size(0)  # now, before any operation: see Swarm.routing_table_size
    time.sleep(args.settle)
    node = swarm.nodes[0]
    t = args.op_timeout

    setup_start = time.perf_counter()
    remote_keys, remote_values, setup_failed_a = store_from_others(swarm, args.ops, rng, "get", t)
    latest_keys, latest_values, setup_failed_b = store_from_others(swarm, args.ops, rng, "latest", t)
    setup_s = time.perf_counter() - setup_start

    put_ms, puts_failed = [], 0
    for _ in range(args.ops):
        op = put(node, f"put.{random_hex(rng, 8)}", random_hex(rng, VALUE_BYTES // 2).encode()).wait(t)
        put_ms.append(op.ms)
        puts_failed += 0 if op.ok else 1
    first = [(get(node, k, v, False).wait(t), v) for k, v in zip(remote_keys, remote_values)]
    again = [(get(node, k, v, False).wait(t), v) for k, v in zip(remote_keys, remote_values)]
    full = [(get(node, k, v, True).wait(t), v) for k, v in zip(latest_keys, latest_values)]

    throughput = []
    for in_flight in args.in_flight:
        keys, values, bulk_setup_failed = store_from_others(swarm, args.throughput_ops, rng, f"bulk{in_flight}", t)
        failed = [0]
        put_rate = run_in_flight(args.throughput_ops, in_flight,
                                 lambda i: put(node, f"bulkput.{in_flight}.{i}", values[i]),
                                 lambda i, op: failed.__setitem__(0, failed[0] + (0 if op.ok else 1)), t)
        got, got_full = [], []
        get_rate = run_in_flight(args.throughput_ops, in_flight, lambda i: get(node, keys[i], values[i], False),
                                 lambda i, op: got.append((op, values[i])), t)
        full_rate = run_in_flight(args.throughput_ops, in_flight, lambda i: get(node, keys[i], values[i], True),
                                  lambda i, op: got_full.append((op, values[i])), t)
        throughput.append({"in_flight": in_flight, "ops": args.throughput_ops, "setup_puts_failed": bulk_setup_failed,
                           "put": {"ops_per_s": put_rate}, "put_failed": failed[0],
                           "get": {"ops_per_s": get_rate}, "get_results": tally(got),
                           "get_full": {"ops_per_s": full_rate}, "get_full_results": tally(got_full)})
    return {"nodes": nodes, "join_s": join_s, "settle_s": args.settle, "setup_stores": 2 * args.ops,
            "setup_s": setup_s, "setup_puts_failed": setup_failed_a + setup_failed_b,
            "routing_table_size_of_node_0_after_join": rt,
            "put": latency(put_ms), "put_failed": puts_failed,
            "get_first": latency([op.ms for op, _ in first]), "get_first_results": tally(first),
            "get_again": latency([op.ms for op, _ in again]), "get_again_results": tally(again),
            "get_full": latency([op.ms for op, _ in full]), "get_full_results": tally(full),
            "throughput": throughput}


# --- burst join -----------------------------------------------------------------------------------

def run_burst(delay: float, args, trial: int) -> dict:
    rng = random.Random(args.seed * 100 + trial)
    swarm = Swarm(args.addresses, args.unlimited)
    for i in range(args.burst_seeds):
        swarm.add()
        if i:
            swarm.bootstrap(i, rng.sample(range(i), min(i, 1 + rng.randrange(2))))
    time.sleep(1.0)  # the seeds know each other (hive's test waits for each seed's bootstrap)
    for _ in range(args.burst_seeds, args.burst_nodes):
        swarm.add()  # running, not bootstrapped yet
    start = time.perf_counter()
    for i in range(args.burst_seeds, args.burst_nodes):
        swarm.bootstrap(i, [rng.randrange(args.burst_seeds) for _ in range(1 + rng.randrange(2))])
    bootstrap_calls_s = time.perf_counter() - start
    time.sleep(delay)

    keys = [f"burst.{i}" for i in range(args.burst_keys)]
    values = [f"burst.{i}={rng.getrandbits(64)}".encode() for i in range(args.burst_keys)]
    if args.burst_writer == "one":
        writers = [rng.randrange(args.burst_seeds, args.burst_nodes)] * len(keys)  # one burst-joined node
    else:
        writers = [rng.randrange(args.burst_nodes) for _ in keys]
    put_start = time.perf_counter()
    puts = [put(swarm.nodes[w], k, v) for w, k, v in zip(writers, keys, values)]
    deadline = time.perf_counter() + args.op_timeout  # for the whole phase
    for op in puts:
        op.wait(deadline - time.perf_counter())
    put_s = time.perf_counter() - put_start
    readers = []
    for w in writers:
        r = rng.randrange(args.burst_nodes)
        while r == w:
            r = rng.randrange(args.burst_nodes)
        readers.append(r)
    get_start = time.perf_counter()
    gets = [get(swarm.nodes[r], k, v, False) for r, k, v in zip(readers, keys, values)]
    deadline = time.perf_counter() + args.op_timeout
    for op in gets:
        op.wait(deadline - time.perf_counter())
    get_s = time.perf_counter() - get_start
    results = tally(list(zip(gets, values)))
    return {"delay_s": delay, "trial": trial, "writer": args.burst_writer, "keys": args.burst_keys,
            "nodes": args.burst_nodes, "bootstrap_calls_s": bootstrap_calls_s,
            "puts_ok": sum(op.ok for op in puts), "puts_timed_out": sum(not op.event.is_set() for op in puts),
            "put_phase_s": put_s, "put_ms": latency([op.ms for op in puts]),
            "gets": len(gets), "read_back": results["found"], "wrong_value": results["wrong_value"],
            "missing": results["missing"], "gets_timed_out": sum(not op.event.is_set() for op in gets),
            "get_phase_s": get_s, "get_ms": latency([op.ms for op in gets]),
            "all_read_back": results["found"] == len(gets)}


def in_child(fn, *args, timeout: float = 600):
    """Runs fn(*args) in a forked child (this process has no OpenDHT threads then) and returns its
    result. Each swarm lives in its own process, which ends without shutting its runners down
    (DhtRunner.shutdown() and join() need the GIL back from their callbacks, and 200 of them can
    take minutes); no swarm's threads or sockets linger into the next measurement."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def target():
        try:
            send.send(fn(*args))
        except BaseException as error:  # reported, not raised: the parent goes on
            send.send({"error": repr(error)})
        finally:
            sys.stdout.flush()
            os._exit(0)

    child = ctx.Process(target=target)
    child.start()
    send.close()
    try:
        result = receive.recv() if receive.poll(timeout) else {"error": f"no result within {timeout} s"}
    except EOFError:
        result = {"error": f"the child ended without a result (exit code {child.exitcode})"}
    child.join(5)
    if child.is_alive():
        child.kill()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="latency,burst")
    parser.add_argument("--nodes", default="20,100")
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--throughput-ops", type=int, default=500)
    parser.add_argument("--in-flight", default="8,64")
    parser.add_argument("--settle", type=float, default=2.0, help="latency: seconds to wait after the join")
    parser.add_argument("--burst-nodes", type=int, default=200)
    parser.add_argument("--burst-seeds", type=int, default=5)
    parser.add_argument("--burst-keys", type=int, default=200)
    parser.add_argument("--burst-delays", default="0,1,5")
    parser.add_argument("--burst-trials", type=int, default=1)
    parser.add_argument("--burst-writer", choices=("random", "one"), default="random",
                        help="each key put from a random node (as hive's test), or every key from one node")
    parser.add_argument("--addresses", choices=("one", "many"), default="one")
    parser.add_argument("--unlimited", action="store_true", help="setRateLimit(-1, -1) on every node")
    parser.add_argument("--op-timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=30)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    args.in_flight = [int(x) for x in args.in_flight.split(",")]
    parts = set(args.part.split(","))

    result = {"implementation": "OpenDHT", "opendht_version": opendht_version(), "python": platform.python_version(),
              "addresses": args.addresses, "rate_limit": "off (setRateLimit(-1, -1))" if args.unlimited else "default",
              "value_bytes": VALUE_BYTES, "load_average_before": load_average()}
    if "latency" in parts:
        result["latency"] = []
        for n in [int(x) for x in args.nodes.split(",")]:
            start = time.perf_counter()
            run = in_child(run_latency, n, args)
            if "error" in run:
                print(f"latency N={n}: {run['error']}", flush=True)
                result["latency"].append({"nodes": n, **run})
                continue
            result["latency"].append(run)
            print(f"latency N={n} ({time.perf_counter() - start:.1f} s): put p50 {run['put']['p50_ms']:.2f} p99 "
                  f"{run['put']['p99_ms']:.2f}; get p50 {run['get_first']['p50_ms']:.2f} p99 "
                  f"{run['get_first']['p99_ms']:.2f} {run['get_first_results']}; again p50 "
                  f"{run['get_again']['p50_ms']:.2f}; full get p50 {run['get_full']['p50_ms']:.2f} p99 "
                  f"{run['get_full']['p99_ms']:.2f} {run['get_full_results']}; puts failed {run['put_failed']}, "
                  f"setup failed {run['setup_puts_failed']}, rt {run['routing_table_size_of_node_0_after_join']}", flush=True)
            for level in run["throughput"]:
                print(f"   in flight {level['in_flight']}: put {level['put']['ops_per_s']:.0f}/s (failed "
                      f"{level['put_failed']}), get {level['get']['ops_per_s']:.0f}/s {level['get_results']}, "
                      f"full get {level['get_full']['ops_per_s']:.0f}/s", flush=True)
    if "burst" in parts:
        result["burst"] = []
        for delay in [float(x) for x in args.burst_delays.split(",")]:
            for trial in range(args.burst_trials):
                run = in_child(run_burst, delay, args, trial)
                if "error" in run:
                    print(f"burst delay {delay:g} s, trial {trial}: {run['error']}", flush=True)
                    result["burst"].append({"delay_s": delay, "trial": trial, **run})
                    continue
                result["burst"].append(run)
                print(f"burst {args.burst_nodes} nodes, {args.burst_keys} keys from {args.burst_writer} writer(s), delay {delay:g} s, trial {trial}: puts ok "
                      f"{run['puts_ok']}/{args.burst_keys} (timed out {run['puts_timed_out']}) in "
                      f"{run['put_phase_s']:.2f} s; read back {run['read_back']}/{run['gets']} (wrong "
                      f"{run['wrong_value']}, missing {run['missing']}, timed out {run['gets_timed_out']}) in "
                      f"{run['get_phase_s']:.2f} s", flush=True)
    result["load_average_after"] = load_average()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
