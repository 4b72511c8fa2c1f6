#!/usr/bin/env python3
"""-O0 against -O2 on the model zoo: latency at batch 1 and 32 and the number
of kernel calls per run, measured interleaved (this host is noisy: the best of
--reps repetitions of each median is kept). Writes a markdown table to
bench/results/opt-levels.md (or --out).

  bench/opt_levels.py [--models a,b] [--threads 2] [--reps 3] [--batches 1,32]

Run by hand (minutes per model); not part of the test suite.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = ["mnist_mlp", "mnist_cnn", "lenet5", "conv_autoencoder", "lstm_classifier",
                  "gru_regressor", "transformer_encoder", "mobilenet_v2", "resnet18"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def kernel_calls(dnnc, model, level):
    """(calls per run, distinct kernels) from the host graph's LLVM IR."""
    ir = run([dnnc, os.path.join(ROOT, "examples", model + ".dnn"), level, "--emit=llvm"])
    body = ir[ir.index("define i32 @dnn_model_graph_run"):]
    body = body[:body.index("\n}\n")]
    calls = re.findall(r"call i32 @(dnn_\w+)\(", body)
    return len(calls), len(set(calls))


def bench(dnn_run, so, batch, threads):
    out = run([dnn_run, "bench", so, "--batch", str(batch), "--threads", str(threads)])
    return float(re.search(r"median ([0-9.]+) ms", out).group(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--batches", default="1,32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--work", default="/tmp/dnnc-bench")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "opt-levels.md"))
    a = p.parse_args()
    dnnc = os.path.join(a.build, "bin", "dnnc")
    dnn_run = os.path.join(a.build, "bin", "dnn-run")
    os.makedirs(a.work, exist_ok=True)
    models = a.models.split(",")
    batches = [int(b) for b in a.batches.split(",")]
    rows = []
    for model in models:
        sos, calls = {}, {}
        for level in ("-O0", "-O2"):
            so = os.path.join(a.work, f"{model}{level}.so")
            run([dnnc, os.path.join(ROOT, "examples", model + ".dnn"), level, "-o", so])
            sos[level], calls[level] = so, kernel_calls(dnnc, model, level)
        for batch in batches:
            best = {"-O0": float("inf"), "-O2": float("inf")}
            for _ in range(a.reps):  # interleaved: O0, O2, O0, O2, ...
                for level in ("-O0", "-O2"):
                    best[level] = min(best[level], bench(dnn_run, sos[level], batch, a.threads))
            rows.append((model, batch, best["-O0"], best["-O2"], calls["-O0"], calls["-O2"]))
            print(f"{model:22s} b{batch:<3d} O0 {best['-O0']:9.3f} ms  O2 {best['-O2']:9.3f} ms"
                  f"  x{best['-O0'] / best['-O2']:.2f}  calls {calls['-O0'][0]} -> {calls['-O2'][0]}",
                  flush=True)
    with open(a.out, "w") as f:
        f.write(f"# -O0 vs -O2 ({a.threads} threads, best of {a.reps} interleaved medians)\n\n")
        f.write("| model | batch | -O0 ms | -O2 ms | speedup | kernel calls -O0 | -O2 | distinct kernels -O0 | -O2 |\n")
        f.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for m, b, t0, t2, c0, c2 in rows:
            f.write(f"| {m} | {b} | {t0:.3f} | {t2:.3f} | {t0 / t2:.2f} | {c0[0]} | {c2[0]} | {c0[1]} | {c2[1]} |\n")
    print("wrote", a.out)


if __name__ == "__main__":
    sys.exit(main())
