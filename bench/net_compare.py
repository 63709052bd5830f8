#!/usr/bin/python3
"""Runs hive's net_bench and compares the RPC cases with their plain-TCP twins on this machine.

The issue's aims: tensor calls move at least 0.8 of the bytes/s of a plain TCP send/receive
loop over loopback (TensorCallThroughput vs RawTcpLoopback, per message size and calls in
flight), and a small call's p50 round trip is at most 30 us (SmallCallRoundTrip/loops:2, both
endpoints on their own I/O threads). Every case runs --repetitions times, the repetitions of all
cases in random order; each number kept is the median over the repetitions. Writes
bench/results/net.json and prints a table. Standard library only.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
THROUGHPUT_TARGET = 0.8      # TensorCallThroughput bytes/s over RawTcpLoopback's, at least
SMALL_CALL_P50_TARGET_US = 30.0
LATENCY_CASE = "SmallCallRoundTrip/loops:2"
RAW_LATENCY_CASE = "RawTcpRoundTrip"
# Numbers kept per case, as net_bench's JSON names them (counters absent from a case are skipped).
METRICS = ("real_time", "cpu_us", "items_per_second", "bytes_per_second", "GB/s", "p50_us",
           "p99_us")
SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# Table and JSON order (the runs themselves come in random order).
FAMILIES = ("SmallCallRoundTrip", "SmallCallRoundTripFromCaller", "RawTcpRoundTrip",
            "CallsPerSecondInFlight", "TensorCallThroughput", "RawTcpLoopback")


def run_bench(binary, benchmark_filter, repetitions):
    """Runs net_bench; returns its JSON context and {case: {metric: median over repetitions}}."""
    # Repetitions of all cases run in random order, so that a burst of other work on a shared
    # machine hits an RPC case and its plain-TCP twin alike rather than one of them.
    command = [str(binary), "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
               "--benchmark_enable_random_interleaving=true"]
    if benchmark_filter:
        command.append(f"--benchmark_filter={benchmark_filter}")
    print("running", " ".join(command), file=sys.stderr)
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    samples = {}
    for run in report["benchmarks"]:
        name = run["run_name"].removesuffix("/real_time")
        if run.get("error_occurred"):
            raise SystemExit(f"net_bench case {name} failed: {run.get('error_message')}")
        if run.get("run_type") != "iteration":
            continue  # Google Benchmark's aggregates: the medians are taken here
        values = samples.setdefault(name, {})
        for metric in METRICS:
            if metric not in run:
                continue
            value = run[metric]
            if metric == "real_time":
                value *= SECONDS_PER_UNIT[run["time_unit"]] * 1e6  # microseconds per iteration
            values.setdefault(metric, []).append(value)
    samples = dict(sorted(samples.items(), key=lambda item: case_order(item[0])))
    cases = {name: {metric: statistics.median(values) for metric, values in metrics.items()}
             for name, metrics in samples.items()}
    spreads = {name: {metric: [min(values), max(values)] for metric, values in metrics.items()}
               for name, metrics in samples.items()}
    return report["context"], cases, spreads


def case_args(name):
    """ "TensorCallThroughput/bytes:4194304/in_flight:2" -> ("TensorCallThroughput", {...})."""
    family, *args = name.split("/")
    return family, {key: int(value) for key, value in (arg.split(":") for arg in args)}


def case_order(name):
    """Sort key: FAMILIES' order, then the arguments in name order, loops:2 before loops:1."""
    family, args = case_args(name)
    rank = FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)
    return rank, family, tuple(-value if key == "loops" else value for key, value in args.items())


def throughput_ratios(cases):
    """TensorCallThroughput over RawTcpLoopback for every (bytes, in_flight) both ran."""
    ratios = []
    for name, rpc in cases.items():
        family, args = case_args(name)
        if family != "TensorCallThroughput":
            continue
        raw_name = name.replace("TensorCallThroughput", "RawTcpLoopback", 1)
        if raw_name not in cases:
            continue
        raw = cases[raw_name]
        ratio = rpc["bytes_per_second"] / raw["bytes_per_second"]
        mib = args["bytes"] / (1 << 20)
        ratios.append({"rpc_case": name, "raw_case": raw_name, "bytes": args["bytes"],
                       "in_flight": args["in_flight"], "rpc_gb_per_second": rpc["GB/s"],
                       "raw_gb_per_second": raw["GB/s"], "ratio": ratio,
                       "meets_target": ratio >= THROUGHPUT_TARGET,
                       # Process CPU (both sides) per MiB moved, and the RPC's over plain TCP's.
                       "rpc_cpu_us_per_mib": rpc["cpu_us"] / mib,
                       "raw_cpu_us_per_mib": raw["cpu_us"] / mib,
                       "cpu_cost_ratio": rpc["cpu_us"] / raw["cpu_us"]})
    return ratios


def latency_ratios(cases):
    """Each small-call case's p50 against the plain ping/pong's p50."""
    if RAW_LATENCY_CASE not in cases:
        return []
    raw = cases[RAW_LATENCY_CASE]
    result = []
    for name, rpc in cases.items():
        if not name.startswith("SmallCallRoundTrip"):
            continue
        result.append({"rpc_case": name, "raw_case": RAW_LATENCY_CASE,
                       "rpc_p50_us": rpc["p50_us"], "raw_p50_us": raw["p50_us"],
                       "p50_ratio": rpc["p50_us"] / raw["p50_us"],
                       "p50_overhead_us": rpc["p50_us"] - raw["p50_us"],
                       "rpc_p99_us": rpc["p99_us"], "raw_p99_us": raw["p99_us"],
                       "rpc_cpu_us": rpc["cpu_us"], "raw_cpu_us": raw["cpu_us"],
                       "meets_target": (rpc["p50_us"] <= SMALL_CALL_P50_TARGET_US
                                        if name == LATENCY_CASE else None)})
    return result


def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def hive_revision():
    """HEAD's commit, marked "+dirty" when the working tree differs from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "HEAD")
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def format_bytes(count):
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count} B"


def print_tables(cases, throughput, latency):
    def cell(case, metric, digits=1):
        return f"{case[metric]:.{digits}f}" if metric in case else "-"

    header = (f"{'case':<50} {'us/iter':>9} {'cpu us':>9} {'calls/s':>8} {'p50 us':>9} "
              f"{'p99 us':>9} {'GB/s':>6}")
    print(header)
    print("-" * len(header))
    for name, case in cases.items():
        calls = f"{case['items_per_second']:.0f}" if "items_per_second" in case else "-"
        print(f"{name:<50} {cell(case, 'real_time'):>9} {cell(case, 'cpu_us'):>9} {calls:>8} "
              f"{cell(case, 'p50_us'):>9} {cell(case, 'p99_us'):>9} {cell(case, 'GB/s', 2):>6}")
    print()
    header = (f"{'tensor call vs plain TCP':<24} {'rpc GB/s':>8} {'tcp GB/s':>8} {'ratio':>6} "
              f"{'cpu/MiB rpc':>11} {'tcp':>5} {'x':>5}")
    print(header + f"  target ratio >= {THROUGHPUT_TARGET}")
    print("-" * (len(header) + 21))
    for row in throughput:
        label = f"{format_bytes(row['bytes'])}, {row['in_flight']} in flight"
        print(f"{label:<24} {row['rpc_gb_per_second']:>8.2f} {row['raw_gb_per_second']:>8.2f} "
              f"{row['ratio']:>6.2f} {row['rpc_cpu_us_per_mib']:>11.0f} "
              f"{row['raw_cpu_us_per_mib']:>5.0f} {row['cpu_cost_ratio']:>5.2f}  "
              f"{'ok' if row['meets_target'] else 'below'}")
    print()
    header = f"{'small call vs ping/pong':<38} {'p50 us':>7} {'tcp p50':>7} {'+us':>6} {'x':>5}"
    print(header + f"  target p50 <= {SMALL_CALL_P50_TARGET_US:.0f} us")
    print("-" * (len(header) + 24))
    for row in latency:
        target = "" if row["meets_target"] is None else ("ok" if row["meets_target"] else "above")
        print(f"{row['rpc_case']:<38} {row['rpc_p50_us']:>7.1f} {row['raw_p50_us']:>7.1f} "
              f"{row['p50_overhead_us']:>6.1f} {row['p50_ratio']:>5.2f}  {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", nargs="?", default=str(REPO / "build/release/bench/net_bench"),
                        help="path of the net_bench binary (default: %(default)s)")
    parser.add_argument("--filter", default="", help="--benchmark_filter regex for net_bench")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="runs of every case; the median is kept (default: %(default)s)")
    parser.add_argument("--output", default=str(REPO / "bench/results/net.json"))
    options = parser.parse_args()

    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    context, cases, spreads = run_bench(options.bench, options.filter, options.repetitions)
    throughput = throughput_ratios(cases)
    latency = latency_ratios(cases)

    result = {
        "machine": {
            "cpu_model": cpu_model(),
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "date": started.isoformat(timespec="seconds"),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "hive": {"revision": hive_revision(), "libuv": context.get("libuv"),
                 "transport": context.get("transport")},
        "timing": {"repetitions": options.repetitions, "order": "random interleaving",
                   "statistic": "median of repetitions",
                   "units": {"real_time": "us per iteration (one call or message)",
                             "cpu_us": "process CPU us (all threads) per iteration",
                             "items_per_second": "calls/s", "GB/s": "10^9 bytes/s"}},
        "targets": {"throughput_ratio_at_least": THROUGHPUT_TARGET,
                    "small_call_p50_us_at_most": SMALL_CALL_P50_TARGET_US,
                    "small_call_case": LATENCY_CASE},
        "cases": [{"name": name, **case, "min_max": spreads[name]} for name, case in cases.items()],
        "throughput_ratios": throughput,
        "latency_ratios": latency,
    }
    output = pathlib.Path(options.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(cases, throughput, latency)
    load_after = result["machine"]["load_average_after"][0]
    print(f"\nload average {load_before[0]:.2f} -> {load_after:.2f} on {os.cpu_count()} cores; "
          f"wrote {output}")


if __name__ == "__main__":
    main()
