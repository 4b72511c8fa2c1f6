"""Turns the JSON lines of bench/compare.sh into a markdown table of ratios.

Usage: /usr/bin/python3 summarize.py RESULTS.jsonl DATA_DIR > latest.md

Each cell is the best (lowest) of the repetitions' medians. The ratio is the
faster anchor's time over dnnc's; the targets are issue #6's: >= 1.25 at
batch 1 everywhere and at batch 32 except ResNet-18, which must be at least as
fast as ONNX Runtime and reach >= 80% of the machine's FMA peak.
"""
import json
import os
import sys
from collections import defaultdict

import numpy as np

# fp32 FMA peak of the anchors' machine kind, GFLOP/s (../shared/anchors).
PEAK_GFLOPS = {1: 220.0, 2: 455.0}
ORDER = ["mlp", "cnn", "lenet5", "resnet18", "mobilenetv2", "lstm", "gru", "autoencoder"]


def main():
    results_path, data_dir = sys.argv[1], sys.argv[2]
    manifest = json.load(open(os.path.join(data_dir, "manifest.json")))
    best = defaultdict(dict)  # (model, batch, threads) -> contender -> record
    errors = []
    reps = defaultdict(int)
    for line in open(results_path):
        record = json.loads(line)
        key = (record["model"], record["batch"], record["threads"])
        contender = record["contender"]
        if "error" in record:
            errors.append(f"{contender} {key}: {record['error']}")
            continue
        reps[(key, contender)] += 1
        kept = best[key].get(contender)
        if kept is None or record["median_ms"] < kept["median_ms"]:
            best[key][contender] = record

    print("# dnnc beside ONNX Runtime and TorchScript\n")
    print("Median latency in ms, best of the repetitions (each a median of >= 20 runs after")
    print("warm-up); contenders interleaved per model and thread count. Ratio = the faster")
    print("anchor / dnnc. GFLOP/s counts convolution, linear and recurrent FLOPs only. `diff`")
    print("is the largest absolute difference of dnnc's output from PyTorch eager's.\n")
    print("| model | batch | threads | dnnc | ORT | TorchScript | ratio | dnnc GFLOP/s | target | met | diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    met_count = total = 0
    keys = sorted(best, key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1], k[2]))
    for model, batch, threads in keys:
        row = best[(model, batch, threads)]
        dnnc, ort, torch = (row.get(c) for c in ("dnnc", "onnxruntime", "torchscript"))
        cells = [f"{r['median_ms']:.4g}" if r else "-" for r in (dnnc, ort, torch)]
        anchors = [r["median_ms"] for r in (ort, torch) if r]
        ratio = min(anchors) / dnnc["median_ms"] if dnnc and anchors else None
        gflops = None
        if dnnc:
            flops = manifest[model]["flops_per_sample"] * batch
            gflops = flops / (dnnc["median_ms"] * 1e-3) / 1e9
        if model == "resnet18" and batch == 32:
            target = f">= ORT and >= {0.8 * PEAK_GFLOPS[threads]:.0f} GFLOP/s"
            met = bool(dnnc and ort and dnnc["median_ms"] <= ort["median_ms"]
                       and gflops >= 0.8 * PEAK_GFLOPS[threads])
        else:
            target = ">= 1.25"
            met = ratio is not None and ratio >= 1.25
        total += 1
        met_count += met
        diff = output_diff(data_dir, model, batch)
        print(f"| {model} | {batch} | {threads} | {cells[0]} | {cells[1]} | {cells[2]} | "
              f"{ratio:.2f} | {gflops:.1f} | {target} | {'yes' if met else 'no'} | {diff} |"
              if ratio is not None and gflops is not None else
              f"| {model} | {batch} | {threads} | {cells[0]} | {cells[1]} | {cells[2]} | - | - | "
              f"{target} | no | {diff} |")
    print(f"\nTargets met: {met_count} of {total} rows.")
    counts = sorted(set(reps.values()))
    print(f"Repetitions per cell: {', '.join(map(str, counts))}.")
    if errors:
        print("\nErrors:\n")
        for error in errors:
            print(f"- {error}")


def output_diff(data_dir, model, batch):
    path = os.path.join(data_dir, f"dnnc_{model}_b{batch}_out.npy")
    reference = os.path.join(data_dir, f"{model}_b{batch}_ref.npy")
    if not os.path.exists(path):
        return "not run"
    got, want = np.load(path), np.load(reference)
    if got.size != want.size:
        return f"shape {list(got.shape)} vs {list(want.shape)}"
    return f"{float(np.abs(got.reshape(want.shape) - want).max()):.1e}"


if __name__ == "__main__":
    main()
