#!/usr/bin/env bash
# The GPU benchmark run: the GPU test suite, cuda_kernels_bench, the same cases in PyTorch, and
# the report bench/results/gpu_<device>.json (plus a markdown table on stdout).
#
# Usage (from anywhere; paths are relative to the repository root):
#   bench/gpu/run.sh                      # uses an existing build of the "cuda" preset
#   BUILD=1 bench/gpu/run.sh              # builds first (cmake --preset cuda, then --build)
#   BENCH_FILTER='Matmul|Moe' bench/gpu/run.sh   # only some cases (regex, both sides)
#
# Environment:
#   BUILD_DIR    the build (default build/cuda, the "cuda" preset's binaryDir)
#   BUILD=1      configure and build it first (only for the default BUILD_DIR)
#   SKIP_TESTS=1 skip `ctest -L cuda`
#   BENCH_FILTER regex passed as --benchmark_filter and to torch_reference.py --filter
#   BENCH_ARGS   more flags for cuda_kernels_bench (e.g. --benchmark_repetitions=3)
#   TORCH_ARGS   more flags for torch_reference.py (e.g. --repeats 5)
#   PYTHON       the Python with PyTorch (default python3)
#
# Raw outputs and the log go to bench/results/gpu_run/ (overwritten by each run). A failing test
# suite is recorded in the report and the log, but the benchmarks still run: device time is short.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build/cuda}
python=${PYTHON:-python3}
filter=${BENCH_FILTER:-}
raw=bench/results/gpu_run
mkdir -p "$raw"
log=$raw/run.log
: > "$log"
exec > >(tee -a "$log") 2>&1

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) bench/gpu/run.sh (BUILD_DIR=$build_dir)"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
fi

if [[ ${BUILD:-0} == 1 ]]; then
  if [[ $build_dir != build/cuda ]]; then
    echo "BUILD=1 builds the cuda preset into build/cuda;" \
      "unset BUILD_DIR or build $build_dir yourself" >&2
    exit 2
  fi
  cmake --preset cuda
  cmake --build --preset cuda
fi
bench=$build_dir/bench/cuda_kernels_bench
if [[ ! -x $bench ]]; then
  echo "no $bench: configure and build with the cuda preset (or run with BUILD=1)" >&2
  exit 2
fi

gpu_tests="skipped"
if [[ ${SKIP_TESTS:-0} != 1 ]]; then
  echo "== ctest -L cuda"
  if ctest --test-dir "$build_dir" -L cuda --output-on-failure; then
    gpu_tests="passed"
  else
    gpu_tests="failed (see bench/results/gpu_run/run.log)"
    echo "GPU tests FAILED; running the benchmarks anyway"
  fi
fi

echo "== cuda_kernels_bench"
bench_json=$raw/cuda_kernels_bench.json
bench_flags=(--benchmark_out="$bench_json" --benchmark_out_format=json)
if [[ -n $filter ]]; then bench_flags+=(--benchmark_filter="$filter"); fi
# A case's error is recorded in the JSON. After a crash, make_report.py reports whatever cases
# the JSON got (it may have none), and this script exits with the crash's status.
bench_status=0
# shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
"$bench" "${bench_flags[@]}" ${BENCH_ARGS:-} || bench_status=$?
if [[ $bench_status != 0 ]]; then echo "cuda_kernels_bench exited with status $bench_status"; fi

torch_flags=()
torch_check='import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'
if "$python" -c "$torch_check" 2> /dev/null; then
  echo "== torch_reference.py"
  torch_json=$raw/torch_reference.json
  rm -f "$torch_json"
  # shellcheck disable=SC2086  # TORCH_ARGS is a list of flags
  "$python" bench/gpu/torch_reference.py --output "$torch_json" --filter "$filter" \
    ${TORCH_ARGS:-} || echo "torch_reference.py failed: the report has no PyTorch columns"
  if [[ -f $torch_json ]]; then torch_flags=(--torch "$torch_json"); fi
else
  echo "== PyTorch with CUDA is missing for $python: the report has no PyTorch columns"
fi

echo "== make_report.py"
"$python" bench/gpu/make_report.py --bench "$bench_json" "${torch_flags[@]}" \
  --gpu-tests "$gpu_tests"
exit "$bench_status"
