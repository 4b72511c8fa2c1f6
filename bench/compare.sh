#!/usr/bin/env bash
# dnnc beside ONNX Runtime (onnxruntime-node, CPU) and TorchScript (PyTorch
# from Debian, OpenMP OpenBLAS) on the comparison zoo, in one run, interleaved
# per model and thread count. Writes bench/results/latest.md (the table of
# ratios against issue #6's targets) and keeps the raw JSON lines next to it.
# Run by hand, on a quiet machine; a full run takes 20-40 minutes. Not a test.
#
#   bench/compare.sh [--models "mlp cnn ..."] [--threads "1 2"] [--reps 3]
#                    [--build DIR] [--out FILE]
#
# Installs what it needs when it is missing (as root): python3-torch,
# python3-onnx, python3-numpy, libopenblas0-openmp from Debian, and
# onnxruntime-node from npm with --ignore-scripts (its install script would
# fetch a CUDA provider from the internet) into $DNNC_BENCH_CACHE (default
# ~/.cache/dnnc-bench).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$root/bench/compare"
models="mlp cnn lenet5 resnet18 mobilenetv2 lstm gru autoencoder"
threads_list="1 2"
reps=3
build="$root/build"
out="$root/bench/results/latest.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

cache="${DNNC_BENCH_CACHE:-$HOME/.cache/dnnc-bench}"
data="$cache/data"
ort_prefix="$cache/ort"
openblas_omp=/usr/lib/x86_64-linux-gnu/openblas-openmp
python=/usr/bin/python3   # Debian's python, the one python3-torch installs into

install_missing() {
  local wanted=()
  for p in python3-torch python3-onnx python3-numpy libopenblas0-openmp; do
    dpkg -s "$p" > /dev/null 2>&1 || wanted+=("$p")
  done
  command -v node > /dev/null || wanted+=(nodejs)
  command -v npm > /dev/null || wanted+=(npm)
  if [ ${#wanted[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "compare.sh: missing packages: ${wanted[*]}; install them as root (apt-get install ${wanted[*]})" >&2
      exit 1
    fi
    echo "installing ${wanted[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" > /dev/null
  fi
  if [ ! -d "$ort_prefix/node_modules/onnxruntime-node" ]; then
    echo "installing onnxruntime-node into $ort_prefix"
    mkdir -p "$ort_prefix"
    (cd "$ort_prefix" && { [ -f package.json ] || npm init -y > /dev/null; } &&
       npm install --ignore-scripts --no-audit --no-fund onnxruntime-node > /dev/null)
  fi
}

install_missing
[ -x "$build/bin/dnnc" ] || "$root/scripts/build.sh"
mkdir -p "$data" "$(dirname "$out")"
raw="${out%.md}.jsonl"
: > "$raw"

echo "preparing weights, ONNX files and reference outputs in $data"
# shellcheck disable=SC2086
"$python" "$here/prepare.py" "$data" $models

for model in $models; do
  source=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]['source'])" \
             "$data/manifest.json" "$model")
  "$build/bin/dnnc" "$root/$source" -o "$data/dnnc_$model.so"
  for batch in 1 32; do
    "$build/bin/dnn-run" "$data/dnnc_$model.so" --weights "$data/$model.safetensors" \
      --input "$data/${model}_b${batch}_in.npy" --output "$data/dnnc_${model}_b${batch}_out.npy" --quiet
  done
done

run_dnnc() {  # model threads
  local batch line
  for batch in 1 32; do
    line=$("$build/bin/dnn-run" bench "$data/dnnc_$1.so" --weights "$data/$1.safetensors" \
             --batch "$batch" --threads "$2")
    echo "$line"
    echo "$line" | sed -n "s/.*median \([0-9.e+-]*\) ms *p10 \([0-9.e+-]*\) *p90 \([0-9.e+-]*\) *(\([0-9]*\) runs).*/{\"contender\": \"dnnc\", \"model\": \"$1\", \"batch\": $batch, \"threads\": $2, \"median_ms\": \1, \"p10_ms\": \2, \"p90_ms\": \3, \"runs\": \4}/p" >> "$raw"
  done
}
run_ort() {
  node "$here/time_ort.js" "$ort_prefix" "$data" "$1" "$2" "$raw"
}
run_torch() {
  LD_LIBRARY_PATH="$openblas_omp" "$python" "$here/time_torch.py" --model "$1" --threads "$2" --out "$raw"
}

contenders=(run_dnnc run_ort run_torch)
for rep in $(seq 1 "$reps"); do
  for model in $models; do
    for threads in $threads_list; do
      echo "== rep $rep, $model, $threads thread(s), load $(cut -d' ' -f1-3 /proc/loadavg)"
      # Rotate who goes first so that no contender always runs on a cold host.
      for i in 0 1 2; do
        "${contenders[$(((i + rep) % 3))]}" "$model" "$threads"
      done
    done
  done
done

{
  "$python" "$here/summarize.py" "$raw" "$data"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)),"
  echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg). dnnc $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'),"
  echo "$(node -e "console.log('onnxruntime-node ' + require(require.resolve('onnxruntime-node/package.json', {paths: ['$ort_prefix']})).version)"),"
  echo "torch $("$python" -c 'import torch; print(torch.__version__)') with OpenMP OpenBLAS. Raw lines: $(basename "$raw")."
} > "$out"
cat "$out"
