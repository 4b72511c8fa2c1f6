#!/usr/bin/env bash
# Installs what is missing, builds dnnc, compiles examples/mnist_cnn.dnn to a
# shared library and runs it on a batch of inputs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
"$root/scripts/build.sh"
build="${DNNC_BUILD_DIR:-$root/build}"
bin="$build/bin"
out="$build/demo"
mkdir -p "$out"

echo "== dnnc examples/mnist_cnn.dnn -o $out/mnist_cnn.so"
"$bin/dnnc" "$root/examples/mnist_cnn.dnn" -o "$out/mnist_cnn.so" \
  --init-weights="$out/mnist_cnn.safetensors" --seed=1
ls -l "$out/mnist_cnn.so" "$out/mnist_cnn.h"

echo "== dnn-run $out/mnist_cnn.so on a random batch of 4 images"
"$bin/dnn-run" "$out/mnist_cnn.so" --weights "$out/mnist_cnn.safetensors" \
  --random-batch 4 --output "$out/probs.npy" --repeat 20
echo "(weights are untrained: He/Glorot initialisation with seed 1)"
