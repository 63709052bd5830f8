#!/usr/bin/env bash
# Installs, with apt-get, whatever hive needs to build and test that is not installed yet.
# Idempotent: when everything is present it only checks and returns. Debian 12 (bookworm).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-dev libopenblas-openmp-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
  libuv1-dev libflatbuffers-dev flatbuffers-compiler libsodium-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev  # libFuzzer for the frame-parser fuzz test
  dataset-fashion-mnist
  python3 python3-numpy
)
packages+=("$@")  # callers may ask for more (bench/compare_torch.py wants python3-torch)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup: missing packages (${missing[*]}) and not root; run as root or install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
