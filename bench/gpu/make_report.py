#!/usr/bin/env python3
"""Puts cuda_kernels_bench's results and PyTorch's (torch_reference.py) side by side.

Reads the Google Benchmark JSON of cuda_kernels_bench and, when given, the JSON of
torch_reference.py; writes bench/results/gpu_<device>.json (one entry per case: both times per
iteration, torch / hive, achieved TFLOP/s and GB/s, and the fraction of the limits measured in the
same run: the bf16 GEMM peak for GEMM-bound cases, the device-to-device copy bandwidth for
memory-bound ones) and prints the same as a markdown table for bench/README.md. Standard library
only.
"""

import argparse
import datetime
import json
import pathlib
import re
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# The limit cases (their family names); every other case is compared with them.
BF16_PEAK = "MatmulPeak/dtype:bf16"
F32_PEAK = "MatmulPeak/dtype:f32"
COPY = "DeviceCopy"
# The issue's grouped-FFN target: the local MoE and the experts' FFN as grouped GEMMs at >= 60%
# of the bf16 peak and faster than PyTorch's loop over experts.
MOE_TARGET_FAMILIES = ("LocalMoeForwardBackward", "GroupedFfnForwardBackward")
MOE_PEAK_FRACTION = 0.6


def read_hive(path):
    """{case name: {"seconds", "flops_per_s", "bytes_per_s", "error"}} and the run's context.
    With --benchmark_repetitions, the median of the repetitions."""
    text = pathlib.Path(path).read_text()
    try:
        report = json.loads(text)
    except json.JSONDecodeError:
        # The benchmark died mid-run: its JSON stops after the last case it wrote out.
        try:
            report = json.loads(text[:text.rfind("}") + 1] + "]}")
        except json.JSONDecodeError:
            sys.exit(f"make_report: {path} is not JSON, nor a truncated benchmark JSON")
        print(f"{path} is truncated: reporting the cases it finished", file=sys.stderr)
    runs = {}
    for run in report["benchmarks"]:
        if run.get("run_type", "iteration") != "iteration":
            continue
        name = run.get("run_name", run["name"]).removesuffix("/real_time")
        runs.setdefault(name, []).append(run)
    cases = {}
    for name, repetitions in runs.items():
        failed = [run for run in repetitions if run.get("error_occurred")]
        if failed:
            cases[name] = {"error": failed[0].get("error_message", "error")}
            continue

        def median(key, scale=1.0):
            values = [run[key] * scale for run in repetitions if key in run]
            return statistics.median(values) if values else None
        cases[name] = {
            "seconds": statistics.median(run["real_time"] * SECONDS_PER_UNIT[run["time_unit"]]
                                         for run in repetitions),
            "flops_per_s": median("FLOPS"),
            "bytes_per_s": median("GB/s", 1e9),
        }
    return cases, report.get("context", {})


def slug(device_name):
    """ "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.6 GiB)" -> "nvidia-h100-80gb-hbm3"."""
    base = device_name.split(" (")[0]
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-") or "unknown"


def hive_revision():
    """HEAD's commit, "+dirty" when tracked files differ from it; "unknown" without git."""
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def ratio(numerator, denominator):
    """numerator / denominator, or None when either is missing (or the denominator is 0)."""
    if not numerator or not denominator:
        return None
    return numerator / denominator


def limit_value(hive, prefix, key):
    for name, case in hive.items():
        if name.startswith(prefix + "/") and case.get(key):
            return case[key]
    return None


def build_cases(hive, torch_seconds, torch_errors, limits):
    cases = []
    for name in list(hive) + [name for name in torch_seconds if name not in hive]:
        ours = hive.get(name, {"error": "not run by cuda_kernels_bench"})
        theirs = torch_seconds.get(name)
        seconds = ours.get("seconds")
        flops, bytes_ = ours.get("flops_per_s"), ours.get("bytes_per_s")
        # Work per iteration is the same on both sides; torch's rates follow from its time.
        torch_flops = ratio(flops and flops * seconds, theirs)
        torch_bytes = ratio(bytes_ and bytes_ * seconds, theirs)
        case = {
            "name": name,
            "bound": "compute" if flops else ("memory" if bytes_ else None),
            "hive_seconds": seconds,
            "torch_seconds": theirs,
            "speedup_vs_torch": ratio(theirs, seconds),  # above 1: hive is faster
            "hive_tflops": ratio(flops, 1e12),
            "torch_tflops": ratio(torch_flops, 1e12),
            "hive_gbps": ratio(bytes_, 1e9),
            "torch_gbps": ratio(torch_bytes, 1e9),
            "fraction_of_bf16_peak": ratio(flops, limits["bf16_matmul_flops_per_s"]),
            "torch_fraction_of_bf16_peak": ratio(torch_flops, limits["bf16_matmul_flops_per_s"]),
            "fraction_of_copy_bandwidth": ratio(bytes_, limits["copy_bytes_per_s"]),
            "torch_fraction_of_copy_bandwidth": ratio(torch_bytes, limits["copy_bytes_per_s"]),
        }
        if "dtype:f32" in name and flops:
            case["fraction_of_f32_matmul"] = ratio(flops, limits["f32_matmul_flops_per_s"])
        if "error" in ours:
            case["hive_error"] = ours["error"]
        if name in torch_errors:
            case["torch_error"] = torch_errors[name]
        cases.append(case)
    return cases


def moe_targets(cases):
    targets = {}
    for case in cases:
        if case["name"].split("/")[0] not in MOE_TARGET_FAMILIES:
            continue
        fraction, speedup = case["fraction_of_bf16_peak"], case["speedup_vs_torch"]
        targets[case["name"]] = {
            "fraction_of_bf16_peak": fraction,
            "meets_peak_fraction": fraction >= MOE_PEAK_FRACTION if fraction is not None else None,
            "faster_than_torch": speedup > 1.0 if speedup is not None else None,
        }
    return targets


def markdown_table(cases):
    def number(value, scale=1.0, digits=2):
        return "—" if value is None else f"{value * scale:.{digits}f}"

    lines = ["| case | hive ms | torch ms | torch/hive | TFLOP/s | GB/s | of limit |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for case in cases:
        if case["bound"] == "compute":
            of_limit = number(case["fraction_of_bf16_peak"], 100, 0) + "% bf16 peak"
            if "fraction_of_f32_matmul" in case:
                of_limit += ", " + number(case["fraction_of_f32_matmul"], 100, 0) + "% f32 GEMM"
        elif case["bound"] == "memory":
            of_limit = number(case["fraction_of_copy_bandwidth"], 100, 0) + "% copy"
        else:
            of_limit = "—"
        if "hive_error" in case:
            of_limit = "hive: " + case["hive_error"][:60].replace("|", "/")
        lines.append(
            f"| {case['name']} | {number(case['hive_seconds'], 1e3, 3)} | "
            f"{number(case['torch_seconds'], 1e3, 3)} | {number(case['speedup_vs_torch'])} | "
            f"{number(case['hive_tflops'], 1, 1)} | {number(case['hive_gbps'], 1, 0)} | "
            f"{of_limit} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="cuda_kernels_bench's JSON "
                        "(--benchmark_out=... --benchmark_out_format=json)")
    parser.add_argument("--torch", help="torch_reference.py's JSON (omit: no PyTorch columns)")
    parser.add_argument("--output", help="default: bench/results/gpu_<device>.json")
    parser.add_argument("--gpu-tests", default="not run",
                        help="outcome of `ctest -L cuda`, recorded as given (default: %(default)s)")
    parser.add_argument("--commit", help="hive's commit (default: asks git)")
    options = parser.parse_args()

    hive, context = read_hive(options.bench)
    torch_report = json.loads(pathlib.Path(options.torch).read_text()) if options.torch else {}
    device = context.get("device") or torch_report.get("device") or "unknown device"
    limits = {
        "bf16_matmul_flops_per_s": limit_value(hive, BF16_PEAK, "flops_per_s"),
        "f32_matmul_flops_per_s": limit_value(hive, F32_PEAK, "flops_per_s"),
        "copy_bytes_per_s": limit_value(hive, COPY, "bytes_per_s"),
    }
    cases = build_cases(hive, torch_report.get("seconds", {}), torch_report.get("errors", {}),
                        limits)
    result = {
        "device": device,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hive_commit": options.commit or hive_revision(),
        "gpu_tests": options.gpu_tests,
        "benchmark_context": context,
        "torch": {key: value for key, value in torch_report.items()
                  if key not in ("seconds", "errors")} or None,
        "limits": limits,
        "definitions": {
            "speedup_vs_torch": "torch seconds / hive seconds (above 1: hive is faster)",
            "tflops": "GEMM FLOPs per iteration (as counted by cuda_kernels_bench) / seconds",
            "gbps": "bytes read + written per iteration / seconds, 10^9 bytes",
            "limits": "measured in the same run: MatmulPeak/dtype:bf16 (n 8192) and "
                      "DeviceCopy (1 GiB, read + write)",
        },
        "moe_target": {"fraction_of_bf16_peak_at_least": MOE_PEAK_FRACTION,
                       "faster_than_torch": True, "cases": moe_targets(cases)},
        "cases": cases,
    }
    output = pathlib.Path(options.output or REPO / "bench/results" / f"gpu_{slug(device)}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Device: {device}; hive {result['hive_commit']}; torch "
          f"{torch_report.get('torch_version', 'not run')}; GPU tests: {options.gpu_tests}\n")
    print(markdown_table(cases))
    print(f"\nwrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
