#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (lit + GoogleTest) through ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
"$root/scripts/build.sh"
build="${DNNC_BUILD_DIR:-$root/build}"
# Tests labelled `slow` (whole 224x224 models against the double-precision
# reference, minutes each) run only with DNNC_SLOW_TESTS=1.
exclude=(-LE slow)
[ "${DNNC_SLOW_TESTS:-0}" = 1 ] && exclude=()
ctest --test-dir "$build" --output-on-failure -j "${DNNC_JOBS:-2}" "${exclude[@]}"
