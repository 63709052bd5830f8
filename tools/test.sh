#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs the whole test suite through ctest.
# Exits non-zero on any failure. Re-running rebuilds incrementally.
#   HIVE_PRESET=asan tools/test.sh   runs the suite under AddressSanitizer + UBSan instead.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${HIVE_PRESET:-default}"

tools/setup.sh
cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset" --parallel "$(nproc)" "$@"
