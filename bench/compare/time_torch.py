"""TorchScript latency of one model: trace, freeze, optimize_for_inference
(the anchors' fastest TorchScript mode), per batch size. Appends one JSON line
per batch to OUT.

Usage: /usr/bin/python3 time_torch.py --model NAME --threads T --out OUT [--batches 1 32]
Run with LD_LIBRARY_PATH pointing at the OpenMP OpenBLAS (compare.sh does), so
that torch's OpenMP pool and OpenBLAS's threads do not oversubscribe the cores.
"""
import argparse
import json
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--batches", nargs="*", type=int, default=[1, 32])
parser.add_argument("--out", required=True)
args = parser.parse_args()

# Before torch loads its OpenMP runtime and BLAS.
os.environ["OMP_NUM_THREADS"] = str(args.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo  # noqa: E402

torch.set_num_threads(args.threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass


def time_runs(fn, warmup_s=0.5, min_runs=20, min_s=1.0, max_runs=2000):
    """dnn-run bench's rule: >= 5 runs and warmup_s of warm-up, then the
    median of >= min_runs runs and >= min_s seconds."""
    start = time.perf_counter()
    done = 0
    while done < 5 or time.perf_counter() - start < warmup_s:
        fn()
        done += 1
    times, total = [], 0.0
    while len(times) < min_runs or (total < min_s and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        times.append(elapsed)
        total += elapsed
    times.sort()
    return {"median_ms": 1e3 * times[len(times) // 2], "p10_ms": 1e3 * times[len(times) // 10],
            "p90_ms": 1e3 * times[(9 * len(times)) // 10], "runs": len(times)}


model = zoo.build(args.model)
with open(args.out, "a") as out, torch.no_grad():
    for batch in args.batches:
        x = zoo.make_input(args.model, batch)
        record = {"contender": "torchscript", "model": args.model, "batch": batch,
                  "threads": args.threads}
        try:
            traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
            traced(x)
            record["max_abs_diff"] = float((traced(x) - model(x)).abs().max())
            record.update(time_runs(lambda: traced(x)))
        except Exception as error:  # keep the other rows
            record["error"] = f"{type(error).__name__}: {str(error)[:300]}"
        out.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)
