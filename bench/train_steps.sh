#!/usr/bin/env bash
# The training step (forward, cross-entropy, backward, Adam; batch 64) of the
# anchors' MLP, CNN, LSTM and GRU, timed by `dnn-run bench --train` at 1 and 2
# threads, next to PyTorch eager's figures from ../shared/anchors/README.md
# (measured on this machine kind; the issue's target is 2x faster). Writes
# bench/results/train-steps.md. Run by hand (a few minutes); not a test.
#
#   bench/train_steps.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
results="$root/bench/results/train-steps.md"

# model, source, PyTorch eager 1 thread, 2 threads (ms, openmp BLAS)
models=(
  "mnist_mlp examples/mnist_mlp.dnn 2.02 1.65"
  "mnist_cnn examples/mnist_cnn.dnn 26.00 15.43"
  "lstm_classifier examples/lstm_classifier.dnn 94.75 76.65"
  "gru_classifier bench/models/gru_classifier.dnn 76.04 50.51"
)
{
  echo "# Training step, batch 64 (forward + loss + backward + Adam)"
  echo
  echo "dnnc: \`dnn-run bench --train\` median ms; PyTorch 1.13 eager from ../shared/anchors (best of 3 passes)."
  echo "Ratio = PyTorch / dnnc (target >= 2). Measured $(date -u +%Y-%m-%d) on $(nproc) cores."
  echo
  echo "| model | dnnc 1T | PyTorch 1T | ratio 1T | dnnc 2T | PyTorch 2T | ratio 2T |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
} > "$results"
for entry in "${models[@]}"; do
  read -r name source torch1 torch2 <<< "$entry"
  "$build/bin/dnnc" "$root/$source" -o "$out/$name.so"
  row="| $name"
  for threads in 1 2; do
    torch=$([ "$threads" = 1 ] && echo "$torch1" || echo "$torch2")
    best=""
    for rep in 1 2 3; do
      ms=$("$build/bin/dnn-run" bench "$out/$name.so" --train --batch 64 --threads "$threads" \
             --min-time 2 | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
      best=$(awk -v a="$best" -v b="$ms" 'BEGIN { print (a == "" || b < a) ? b : a }')
    done
    ratio=$(awk -v t="$torch" -v d="$best" 'BEGIN { printf "%.2f", t / d }')
    row="$row | $best | $torch | $ratio"
  done
  echo "$row |" | tee -a "$results"
done
echo "wrote $results"
