#!/usr/bin/python3
"""Runs hive's engine_bench and the same cases in PyTorch on this machine, and compares the times.

Needs PyTorch: Debian's python3-torch lives in /usr/bin/python3 (a pyenv `python3` on PATH may
not have it), so run this file directly or as `/usr/bin/python3 bench/compare_torch.py`.

The case list comes from engine_bench itself: every case it ran (names like
"FfnForwardBackward/batch:1024/hidden:512") is rebuilt here with the same shapes and the same
computation, timed as warm-up + median of repeats, and written with both times and their ratio
(hive / torch: below 1 means hive is faster) to bench/results/cpu_vs_torch.json.

Debian's torch runs its own loops on libgomp but its GEMMs on the pthread build of OpenBLAS, so
two thread pools spin for the same cores. How much that costs depends on the case (libgomp's idle
threads spin unless OMP_WAIT_POLICY=PASSIVE), so the torch side runs once per wait policy, each
in a fresh worker process (libgomp reads the policy at start-up), and each case keeps torch's
faster time: hive is compared with the best torch this machine gives.
"""

import argparse
import ctypes
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

REPO = pathlib.Path(__file__).resolve().parent.parent
GRID_SIDE = 4  # 4 x 4 grid: 16 experts, as in engine_bench.cpp
EXPERTS_PER_ROW = 2
SEED = 2020
# Cases whose FLOPs are almost all GEMMs: the ones held to the <= 1.2x target.
MATMUL_BOUND = ("Matmul", "FfnForwardBackward", "LocalMoeForwardBackward")
TARGET_RATIO = 1.2
SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# libgomp wait policies the torch side is timed under: extra environment of each worker.
TORCH_WAIT_POLICIES = {"active": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}}


# --- hive side ---------------------------------------------------------------------------------


def run_hive(binary, benchmark_filter, repetitions):
    """Runs engine_bench; returns its JSON context and {case name: median seconds per pass}."""
    command = [str(binary), "--benchmark_format=json", f"--benchmark_repetitions={repetitions}"]
    if benchmark_filter:
        command.append(f"--benchmark_filter={benchmark_filter}")
    print("running", " ".join(command), file=sys.stderr)
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    samples = {}
    for run in report["benchmarks"]:
        if run.get("run_type") != "iteration":
            continue  # aggregates: the median is taken below, over the repetitions
        name = run["run_name"].removesuffix("/real_time")
        samples.setdefault(name, []).append(run["real_time"] * SECONDS_PER_UNIT[run["time_unit"]])
    return report["context"], {name: statistics.median(times) for name, times in samples.items()}


def parse_case(name):
    """ "Matmul/batch:256/hidden:512" -> ("Matmul", {"batch": 256, "hidden": 512})."""
    family, *args = name.split("/")
    return family, {key: int(value) for key, value in (arg.split(":") for arg in args)}


# --- torch side: the same cases ----------------------------------------------------------------


class FeedForwardExpert(torch.nn.Module):
    """hive::nn::FeedForwardExpert: LayerNorm(x + Linear(4h, h)(GELU_tanh(Linear(h, 4h)(x))))."""

    def __init__(self, hidden):
        super().__init__()
        self.up = torch.nn.Linear(hidden, 4 * hidden)
        self.down = torch.nn.Linear(4 * hidden, hidden)
        self.norm = torch.nn.LayerNorm(hidden, eps=1e-5)

    def forward(self, x):
        return self.norm(x + self.down(F.gelu(self.up(x), approximate="tanh")))


class MixtureOfExperts(torch.nn.Module):
    """hive::nn::MixtureOfExperts with a 4 x 4 grid and k = 2, step for step.

    The gate scores each grid coordinate; an expert's score is the sum of its two coordinates'
    scores; each row takes its top-k experts, weighted by a softmax over the chosen scores. Rows
    are grouped by expert (stable sort: experts in order, rows ascending), each expert runs once
    on its batch, and the outputs are scaled and added back into row order with index_add.
    """

    def __init__(self, hidden):
        super().__init__()
        self.gate = torch.nn.Linear(hidden, 2 * GRID_SIDE)
        self.experts = torch.nn.ModuleList(
            FeedForwardExpert(hidden) for _ in range(GRID_SIDE * GRID_SIDE))

    def forward(self, x):
        rows = x.shape[0]
        first, second = self.gate(x).split(GRID_SIDE, dim=1)
        scores = (first.unsqueeze(2) + second.unsqueeze(1)).reshape(rows, GRID_SIDE * GRID_SIDE)
        top = scores.topk(EXPERTS_PER_ROW, dim=1)
        weights = top.values.softmax(dim=1)

        chosen = top.indices.reshape(-1)
        order = chosen.sort(stable=True).indices  # flat (row, choice) slots, grouped by expert
        source_rows = order.div(EXPERTS_PER_ROW, rounding_mode="floor")
        counts = torch.bincount(chosen, minlength=len(self.experts)).tolist()
        batches = x.index_select(0, source_rows).split(counts)
        outputs = torch.cat([expert(batch) for expert, batch, count
                             in zip(self.experts, batches, counts) if count > 0])
        pair_weights = weights.reshape(-1).index_select(0, order).unsqueeze(1)
        base = torch.zeros(rows, outputs.shape[1])
        return base.index_add(0, source_rows, outputs * pair_weights)


def matmul_case(batch, hidden):
    x = torch.randn(batch, hidden)
    weight = torch.randn(4 * hidden, hidden)

    def run():
        with torch.no_grad():
            F.linear(x, weight)
    return run


def forward_backward_case(module, batch, hidden):
    """Forward, then backward of a fixed random output gradient; the input requires grad and
    every gradient is dropped before each pass (hive's zero_grad drops them too)."""
    x = torch.randn(batch, hidden, requires_grad=True)
    probe = torch.randn(batch, hidden)

    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        module(x).backward(probe)
    return run


def adam_case(hidden):
    ffn = FeedForwardExpert(hidden)
    for param in ffn.parameters():
        param.grad = torch.randn_like(param)
    optimizer = torch.optim.AdamW(ffn.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.01)
    return optimizer.step


def torch_case(family, args):
    torch.manual_seed(SEED)
    hidden = args["hidden"]
    if family == "Matmul":
        return matmul_case(args["batch"], hidden)
    if family == "FfnForwardBackward":
        return forward_backward_case(FeedForwardExpert(hidden), args["batch"], hidden)
    if family == "AdamStep":
        return adam_case(hidden)
    if family == "LocalMoeForwardBackward":
        return forward_backward_case(MixtureOfExperts(hidden), args["batch"], hidden)
    raise ValueError(f"no PyTorch twin for engine_bench case family '{family}'")


def time_torch(run, min_time, repeats):
    """Median over `repeats` of the mean time per call, each repeat lasting at least min_time
    (as Google Benchmark does for hive), after one untimed warm-up call."""
    run()
    start = time.perf_counter()
    run()
    iterations = max(1, math.ceil(min_time / (time.perf_counter() - start)))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            run()
        samples.append((time.perf_counter() - start) / iterations)
    return statistics.median(samples)


def torch_openblas():
    """The OpenBLAS that torch's BLAS calls reach (Debian: libblas.so.3 -> OpenBLAS), or None."""
    try:
        library = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return None
    library.openblas_get_corename.restype = ctypes.c_char_p
    library.openblas_get_config.restype = ctypes.c_char_p
    return library


def torch_worker(threads, min_time, repeats):
    """Times the cases named on stdin (a JSON list) and prints a JSON report on stdout."""
    # Same thread count as hive, for torch's OpenMP loops and for its OpenBLAS, whose pool
    # torch.set_num_threads does not size.
    torch.set_num_threads(threads)
    openblas = torch_openblas()
    if openblas is not None:
        openblas.openblas_set_num_threads(threads)
    seconds = {}
    for name in json.load(sys.stdin):
        print("torch", os.environ.get("OMP_WAIT_POLICY", "ACTIVE (default)"), name, file=sys.stderr)
        seconds[name] = time_torch(torch_case(*parse_case(name)), min_time, repeats)
    json.dump({
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "openblas_threads": openblas.openblas_get_num_threads() if openblas else None,
        "openblas_corename": openblas.openblas_get_corename().decode() if openblas else None,
        "openblas_config": openblas.openblas_get_config().decode() if openblas else None,
        "seconds": seconds,
    }, sys.stdout)


def run_torch(names, threads, options):
    """Runs a torch worker per wait policy; returns {policy: worker report}."""
    reports = {}
    for policy, environment in TORCH_WAIT_POLICIES.items():
        command = [sys.executable, __file__, "--torch-worker", f"--threads={threads}",
                   f"--min-time={options.min_time}", f"--repeats={options.repeats}"]
        worker = subprocess.run(command, input=json.dumps(names), capture_output=True, text=True,
                                env={**os.environ, **environment})
        sys.stderr.write(worker.stderr)
        worker.check_returncode()
        reports[policy] = json.loads(worker.stdout)
    return reports


# --- report ------------------------------------------------------------------------------------


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


def print_table(cases):
    header = (f"{'case':<46} {'hive ms':>10} {'torch ms':>10} {'hive/torch':>10}  "
              f"{'torch wait':<10}  target")
    print(header)
    print("-" * len(header))
    for case in cases:
        target = ""
        if case["matmul_bound"]:
            target = "ok" if case["meets_target"] else f"> {TARGET_RATIO}x"
        print(f"{case['name']:<46} {case['hive_seconds'] * 1e3:>10.2f} "
              f"{case['torch_seconds'] * 1e3:>10.2f} {case['ratio']:>10.2f}  "
              f"{case['torch_wait_policy']:<10}  {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=str(REPO / "build/release/bench/engine_bench"),
                        help="path of the engine_bench binary (default: %(default)s)")
    parser.add_argument("--filter", default="", help="--benchmark_filter regex for engine_bench")
    parser.add_argument("--repeats", type=int, default=3,
                        help="repetitions on both sides; the median is kept (default: %(default)s)")
    parser.add_argument("--min-time", type=float, default=0.5,
                        help="seconds each torch repetition runs at least, as engine_bench's "
                             "default --benchmark_min_time (default: %(default)s)")
    parser.add_argument("--output", default=str(REPO / "bench/results/cpu_vs_torch.json"))
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.torch_worker:
        torch_worker(options.threads, options.min_time, options.repeats)
        return

    load_before = os.getloadavg()
    context, hive_seconds = run_hive(options.bench, options.filter, options.repeats)
    threads = int(context["hive_threads"])
    torch_reports = run_torch(list(hive_seconds), threads, options)

    cases = []
    for name, hive_time in hive_seconds.items():
        by_policy = {policy: report["seconds"][name] for policy, report in torch_reports.items()}
        best_policy = min(by_policy, key=by_policy.get)
        ratio = hive_time / by_policy[best_policy]
        matmul_bound = parse_case(name)[0] in MATMUL_BOUND
        cases.append({"name": name, "hive_seconds": hive_time,
                      "torch_seconds": by_policy[best_policy], "ratio": ratio,
                      "torch_wait_policy": best_policy, "torch_seconds_by_wait_policy": by_policy,
                      "matmul_bound": matmul_bound,
                      "meets_target": ratio <= TARGET_RATIO if matmul_bound else None})

    torch_info = next(iter(torch_reports.values()))
    result = {
        "machine": {
            "cpu_model": cpu_model(),
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "hive": {
            "revision": hive_revision(),
            "threads": threads,
            "openblas_threads": int(context["openblas_threads"]),
            "openblas_corename": context["openblas_corename"],
            "openblas_config": context["openblas_config"],
        },
        "torch": {
            "version": torch_info["version"],
            "threads": torch_info["threads"],
            "openblas_threads": torch_info["openblas_threads"],
            "openblas_corename": torch_info["openblas_corename"],
            "openblas_config": torch_info["openblas_config"],
            "wait_policies": list(TORCH_WAIT_POLICIES),
            "adamw": "torch.optim.AdamW defaults (single-tensor loop)",
        },
        "timing": {"repeats": options.repeats, "statistic": "median of repeats",
                   "torch_min_time_s": options.min_time},
        "target_ratio": TARGET_RATIO,
        "cases": cases,
    }
    output = pathlib.Path(options.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print_table(cases)
    print(f"\nthreads: hive {threads}, torch {torch_info['threads']} "
          f"(OpenBLAS {result['hive']['openblas_threads']} / {torch_info['openblas_threads']}); "
          f"OpenBLAS kernels {result['hive']['openblas_corename']} (hive), "
          f"{torch_info['openblas_corename']} (torch); load average {load_before[0]:.2f} -> "
          f"{result['machine']['load_average_after'][0]:.2f}")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
