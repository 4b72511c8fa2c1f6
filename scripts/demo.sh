#!/usr/bin/env bash
# Installs what is missing, builds dnnc, compiles examples/mnist_cnn.dnn to a
# shared library, trains it for one epoch on Fashion-MNIST (the Debian
# package dataset-fashion-mnist, installed by bootstrap.sh), prints its test
# accuracy and runs the trained model on a few test images.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
"$root/scripts/build.sh"
build="${DNNC_BUILD_DIR:-$root/build}"
bin="$build/bin"
out="$build/demo"
mkdir -p "$out"

data=/usr/share/datasets/fashion-mnist

echo "== dnnc examples/mnist_cnn.dnn -o $out/mnist_cnn.so"
"$bin/dnnc" "$root/examples/mnist_cnn.dnn" -o "$out/mnist_cnn.so"
ls -l "$out/mnist_cnn.so" "$out/mnist_cnn.h"

echo "== dnn-run train $out/mnist_cnn.so --data $data --epochs 1"
"$bin/dnn-run" train "$out/mnist_cnn.so" --data "$data" --epochs 1 --val-split 0.1 \
  --checkpoint "$out/mnist_cnn.ckpt.safetensors" --save-weights "$out/mnist_cnn.safetensors"

echo "== dnn-run eval $out/mnist_cnn.so (the 10000 test images)"
"$bin/dnn-run" eval "$out/mnist_cnn.so" --weights "$out/mnist_cnn.safetensors" --data "$data"
