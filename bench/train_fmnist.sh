#!/usr/bin/env bash
# Full training runs on Fashion-MNIST (60000 training images, 10000 test):
# the benchmark MLP (256-128-100) and two-conv CNN of bench/models, with the
# epochs, optimizer and schedule of their train blocks. Prints each run's
# progress and writes the test accuracy and examples/s per epoch to
# bench/results/train-fmnist.md. Targets (the dataset's published figures):
# MLP >= 0.88, CNN >= 0.91. Run by hand (tens of minutes); not a test.
#
#   bench/train_fmnist.sh [build-dir] [threads]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
threads="${2:-2}"
data=/usr/share/datasets/fashion-mnist
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
results="$root/bench/results/train-fmnist.md"
{
  echo "# Fashion-MNIST, full training runs ($threads threads)"
  echo
  echo "Measured $(date -u +%Y-%m-%d); validation: the last 10% of the training set."
  echo
  echo "| model | epochs | test accuracy | target | examples/s per epoch (median) |"
  echo "|---|---:|---:|---:|---:|"
} > "$results"
for entry in "fmnist_mlp 0.88" "fmnist_cnn 0.91"; do
  read -r name target <<< "$entry"
  "$build/bin/dnnc" "$root/bench/models/$name.dnn" -o "$out/$name.so"
  "$build/bin/dnn-run" train "$out/$name.so" --data "$data" --val-split 0.1 \
    --threads "$threads" --save-weights "$out/$name.safetensors" | tee "$out/$name.log"
  epochs=$(grep -c '^epoch ' "$out/$name.log")
  accuracy=$(sed -n 's/^accuracy: //p' "$out/$name.log" | tail -1)
  speed=$(sed -n 's/.*  \([0-9]*\) examples\/s.*/\1/p' "$out/$name.log" | sort -n |
          awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  echo "| $name | $epochs | $accuracy | $target | $speed |" >> "$results"
done
cat "$results"
