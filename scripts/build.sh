#!/usr/bin/env bash
# Configures (CMake + ninja, into build/) and builds dnnc. Used by demo.sh and test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${DNNC_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
# Two cores and MLIR/Halide headers: more than two jobs only thrashes memory.
ninja -C "$build" -j "${DNNC_JOBS:-2}"
