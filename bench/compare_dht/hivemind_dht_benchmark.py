#!/usr/bin/env python3
"""hivemind's DHT under the workload of hivemind's benchmarks/benchmark_dht.py, driven through
hivemind's public API (hivemind.DHT: store/get with subkeys, shutdown), for a side-by-side with
hive's `dht_bench --scenario hivemind` (bench/dht_bench/hivemind_scenario.cpp).

The workload, as hivemind's benchmark defines it (same flag names and defaults):
  * num_peers hivemind.DHT peers (each its own process with its own p2pd daemon), created one
    after another, each bootstrapping through up to initial_peers random earlier peers;
  * int(failure_rate * num_peers) victims drawn at random, and as many "kill rounds" drawn from
    range(num_threads * total_num_rounds): a shared counter, advanced once after every round's
    stores (over all workers), shuts a victim down when it reaches the next kill round;
  * num_threads asyncio workers run total_num_rounds rounds each, all at once, on the peers
    that are not victims; a round stores one fresh subkey (uuid4 hex) with a uuid4 hex value
    from each of num_store_peers random peers under a fresh key (expiration now + expiration),
    then num_get_peers random peers get the key (latest=True);
  * a get succeeds when it returns a dictionary with as many subkeys as stores succeeded in that
    round, each with the stored value (hivemind's check); the stricter check hive's scenario uses
    (exactly the subkeys whose store succeeded) is counted as well;
  * store time is from before the stores to after the kill check, as hivemind's benchmark takes
    it (a round that kills a peer includes the peer's shutdown); the same time without the
    shutdown is reported too, which is how hive's scenario takes it.

Reported as hive's scenario reports it: per-round wall time of the stores and of the gets
(mean, std with ddof = 1, max), average per worker, total, success rates, node survival (both
hivemind's formula, len(alive_peers) / len(peers), which counts every peer, and the real share of
live peers), join time, process-tree CPU and every round's times. One JSON object is written with
--json.

Known ways this differs from hivemind's script (which cannot run unmodified here): its NodeKiller
calls random.sample() on a set, which Python 3.11 rejects (TypeError) at the first kill; this
driver draws the victim from a list. `--kill-mode thread` runs the shutdown off the event loop
(hivemind's script blocks every worker's event loop while a peer shuts down; `blocking`, the
default, keeps that behaviour).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
import uuid

import hivemind
from hivemind.utils.timed_storage import get_dht_time

try:
    from hivemind.utils.limits import increase_file_limit
except ImportError:  # older layouts
    increase_file_limit = None


def load_average() -> list[float]:
    return list(os.getloadavg())


def clock_ticks_of_tree(root: int) -> int:
    """utime + stime (clock ticks) of every live process descending from root (root excluded)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])
    total, stack = 0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += ticks.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def process_tree_cpu_s() -> float:
    """CPU seconds of this process, its reaped children, and every live descendant (the DHT
    processes and their p2pd daemons)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    hz = os.sysconf("SC_CLK_TCK")
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + clock_ticks_of_tree(os.getpid()) / hz


def spread(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values) if values else 0.0,
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,  # ddof = 1, as np.std(..., ddof=1)
        "max": max(values) if values else 0.0,
        "count": len(values),
    }


class NodeKiller:
    """Shuts victims down at the drawn rounds; the round counter is shared by all workers."""

    def __init__(self, victims: list, kill_rounds: list[int], mode: str, run_start: float, index_of: dict):
        self.victims = list(victims)
        self.kill_rounds = kill_rounds
        self.mode = mode
        self.run_start = run_start
        self.index_of = index_of
        self.round = 0
        self.next = 0
        self.lock = asyncio.Lock()
        self.kills: list[dict] = []

    async def tick(self) -> float:
        """Advances the shared round counter; returns the seconds spent shutting a peer down."""
        async with self.lock:
            spent = 0.0
            if self.next < len(self.kill_rounds) and self.round == self.kill_rounds[self.next]:
                victim = self.victims.pop(random.randrange(len(self.victims)))
                start = time.perf_counter()
                if self.mode == "blocking":
                    victim.shutdown()  # as hivemind's benchmark: the event loop waits
                else:
                    await asyncio.to_thread(victim.shutdown)
                spent = time.perf_counter() - start
                self.kills.append({"peer": self.index_of[id(victim)], "after_round": self.round,
                                   "at_s": start - self.run_start, "shutdown_s": spent})
                self.next += 1
            self.round += 1
            return spent


async def worker(peers: list, args, killer: NodeKiller, run_start: float) -> dict:
    out = {"store_s": [], "store_s_without_kill": [], "get_s": [], "round_start_s": [],
           "stores": 0, "stores_ok": 0, "gets": 0, "gets_ok": 0, "gets_ok_strict": 0,
           "gets_without_record": 0}
    for _ in range(args.total_num_rounds):
        key = uuid.uuid4().hex
        store_start = time.perf_counter()
        out["round_start_s"].append(store_start - run_start)
        store_peers = random.sample(peers, min(args.num_store_peers, len(peers)))
        subkeys = [uuid.uuid4().hex for _ in store_peers]
        values = {subkey: uuid.uuid4().hex for subkey in subkeys}
        expiration = get_dht_time() + args.expiration
        futures = [peer.store(key, subkey=subkey, value=values[subkey], expiration_time=expiration, return_future=True)
                   for peer, subkey in zip(store_peers, subkeys)]
        results = await asyncio.gather(*futures)
        stored_at = time.perf_counter()
        await killer.tick()
        out["store_s"].append(time.perf_counter() - store_start)
        out["store_s_without_kill"].append(stored_at - store_start)
        out["stores"] += len(results)
        succeeded = {subkey for subkey, ok in zip(subkeys, results) if ok}
        out["stores_ok"] += len(succeeded)
        if args.delay:
            await asyncio.sleep(args.delay)

        get_start = time.perf_counter()
        get_peers = random.sample(peers, min(args.num_get_peers, len(peers)))
        gets = await asyncio.gather(*[peer.get(key, args.latest, return_future=True) for peer in get_peers])
        out["get_s"].append(time.perf_counter() - get_start)
        out["gets"] += len(gets)
        for result in gets:
            if result is None or not isinstance(result.value, dict):
                out["gets_without_record"] += 1
                continue
            found = result.value
            values_right = all(subkey in values and found[subkey].value == values[subkey] for subkey in found)
            if len(found) == len(succeeded) and values_right:  # hivemind's check
                out["gets_ok"] += 1
            if set(found) == succeeded and values_right:  # hive's scenario's check
                out["gets_ok_strict"] += 1
        if args.wait_after_iteration:
            await asyncio.sleep(args.wait_after_iteration)
    return out


async def run(args) -> dict:
    random.seed(args.random_seed)
    load_before = load_average()
    created = time.perf_counter()
    peers = []
    for _ in range(args.num_peers):
        neighbors = sum([peer.get_visible_maddrs() for peer in random.sample(peers, min(args.initial_peers, len(peers)))], [])
        peers.append(hivemind.DHT(initial_peers=neighbors, start=True, wait_timeout=args.wait_timeout))
    join_s = time.perf_counter() - created
    index_of = {id(peer): i for i, peer in enumerate(peers)}

    victims = random.sample(peers, min(int(args.failure_rate * args.num_peers), args.num_peers))
    assert len(victims) != len(peers)
    survivors = [peer for peer in peers if peer not in victims]
    kill_rounds = sorted(random.sample(range(args.num_threads * args.total_num_rounds),
                                       min(len(victims), args.num_threads * args.total_num_rounds)))

    cpu_before = process_tree_cpu_s()
    run_start = time.perf_counter()
    killer = NodeKiller(victims, kill_rounds, args.kill_mode, run_start, index_of)
    results = await asyncio.gather(*[worker(survivors, args, killer, run_start) for _ in range(args.num_threads)])
    total_s = time.perf_counter() - run_start
    cpu_s = process_tree_cpu_s() - cpu_before
    load_after_run = load_average()

    alive = [peer.is_alive() for peer in peers]
    merged: dict = {k: [] if isinstance(v, list) else 0 for k, v in results[0].items()}
    rounds = []
    for r in results:
        for k, v in r.items():
            merged[k] = merged[k] + v
        rounds += [[s, a, b] for s, a, b in zip(r["round_start_s"], r["store_s"], r["get_s"])]
    rounds.sort()
    store = spread(merged["store_s"])
    store_wo = spread(merged["store_s_without_kill"])
    get = spread(merged["get_s"])
    out = {
        "reference": "hivemind.DHT under hivemind's benchmarks/benchmark_dht.py workload "
                     "(bench/compare_dht/hivemind_dht_benchmark.py)",
        "hivemind_version": hivemind.__version__,
        "python": platform.python_version(),
        "num_peers": args.num_peers, "initial_peers": args.initial_peers, "num_threads": args.num_threads,
        "total_num_rounds": args.total_num_rounds, "num_store_peers": args.num_store_peers,
        "num_get_peers": args.num_get_peers, "expiration_s": args.expiration, "latest": args.latest,
        "failure_rate": args.failure_rate, "random_seed": args.random_seed, "wait_timeout_s": args.wait_timeout,
        "kill_mode": args.kill_mode, "num_replicas": 5,
        "join_s": join_s,
        "killed": killer.kills,
        "store_wall_time_s": store,
        "store_wall_time_without_shutdown_s": store_wo,
        "get_wall_time_s": get,
        "store_time_per_worker_s": sum(merged["store_s"]) / args.num_threads,
        "get_time_per_worker_s": sum(merged["get_s"]) / args.num_threads,
        "total_time_s": total_s,
        "stores": merged["stores"], "stores_ok": merged["stores_ok"],
        "store_success_rate": merged["stores_ok"] / max(merged["stores"], 1),
        "gets": merged["gets"], "gets_ok": merged["gets_ok"],
        "get_success_rate": merged["gets_ok"] / max(merged["gets"], 1),
        "gets_ok_strict": merged["gets_ok_strict"],
        "get_success_rate_strict": merged["gets_ok_strict"] / max(merged["gets"], 1),
        "gets_without_record": merged["gets_without_record"],
        "node_survival_rate_hivemind_formula": len(alive) / len(peers),
        "node_survival_rate": sum(alive) / len(peers),
        "process_tree_cpu_s": cpu_s,
        "load_average_before": load_before,
        "load_average_after_run": load_after_run,
        "rounds": rounds,
    }
    for peer in peers:
        if peer.is_alive():
            peer.shutdown()
    out["load_average_after"] = load_average()
    return out


def report(r: dict) -> None:
    print(f"\n== hivemind {r['hivemind_version']} DHT, benchmark_dht workload: {r['num_peers']} peers, "
          f"{r['num_threads']} workers x {r['total_num_rounds']} rounds, {r['num_store_peers']} store + "
          f"{r['num_get_peers']} get peers per round, latest={r['latest']}, expiration {r['expiration_s']:.0f} s")
    kills = " ".join(f"peer {k['peer']} after round {k['after_round']} ({k['at_s']:.2f} s, shutdown "
                     f"{k['shutdown_s']:.2f} s)" for k in r["killed"])
    print(f"joined in {r['join_s']:.3f} s; killed {len(r['killed'])} peer(s) during the run: {kills}")
    print(f"{'per round (8 ops at once)':<34} {'mean s':>9} {'std s':>9} {'max s':>9}")
    for label, field in (("store wall time (hivemind's)", "store_wall_time_s"),
                         ("store wall time w/o shutdown", "store_wall_time_without_shutdown_s"),
                         ("get wall time", "get_wall_time_s")):
        s = r[field]
        print(f"{label:<34} {s['mean']:9.4f} {s['std']:9.4f} {s['max']:9.4f}")
    print(f"average store time per worker: {r['store_time_per_worker_s']:.3f} s, get: "
          f"{r['get_time_per_worker_s']:.3f} s; total benchmark time {r['total_time_s']:.3f} s")
    print(f"store success rate: {100 * r['store_success_rate']:.1f}% ({r['stores_ok']}/{r['stores']})")
    print(f"get success rate: {100 * r['get_success_rate']:.1f}% ({r['gets_ok']}/{r['gets']}); strict (exact "
          f"subkey set): {100 * r['get_success_rate_strict']:.1f}%; without record {r['gets_without_record']}")
    print(f"node survival rate: {100 * r['node_survival_rate']:.3f}% (hivemind's formula prints "
          f"{100 * r['node_survival_rate_hivemind_formula']:.3f}%)")
    print(f"process-tree CPU {r['process_tree_cpu_s']:.2f} s over the run; load average "
          f"{r['load_average_before'][0]:.2f} -> {r['load_average_after'][0]:.2f}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num_peers", type=int, default=16)
    parser.add_argument("--initial_peers", type=int, default=4)
    parser.add_argument("--random_seed", type=int, default=30)
    parser.add_argument("--num_threads", type=int, default=10)
    parser.add_argument("--total_num_rounds", type=int, default=16)
    parser.add_argument("--num_store_peers", type=int, default=8)
    parser.add_argument("--num_get_peers", type=int, default=8)
    parser.add_argument("--wait_after_iteration", type=float, default=0)
    parser.add_argument("--delay", type=float, default=0)
    parser.add_argument("--wait_timeout", type=float, default=5)
    parser.add_argument("--expiration", type=float, default=300)
    parser.add_argument("--latest", type=lambda s: s.lower() not in ("0", "false", "no"), default=True)
    parser.add_argument("--failure_rate", type=float, default=0.1)
    parser.add_argument("--increase_file_limit", action="store_true")
    parser.add_argument("--kill-mode", choices=("blocking", "thread"), default="blocking")
    parser.add_argument("--json", default="", help="write the result here")
    args = parser.parse_args()
    if args.increase_file_limit and increase_file_limit is not None:
        increase_file_limit()
    result = asyncio.run(run(args))
    report(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
