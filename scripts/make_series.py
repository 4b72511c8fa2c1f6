#!/usr/bin/env python3
"""Writes a synthetic time series as CSV windows for examples/timeseries_lstm.dnn.

The series is a sum of three sines plus a little seeded noise. Each row is a
window of WINDOW consecutive values followed by the value after it (the label
column, last). Prints the mean squared error of the naive last-value forecast
on the last VAL_FRACTION of the rows: the baseline a trained model must beat.

    scripts/make_series.py out.csv [--rows 4000] [--seed 1] [--val-split 0.2]
"""
import argparse
import math
import random

WINDOW = 32


def series(count, seed):
    rng = random.Random(seed)
    return [math.sin(0.07 * t) + 0.5 * math.sin(0.23 * t + 1.0) +
            0.25 * math.sin(0.61 * t + 2.0) + rng.gauss(0.0, 0.05)
            for t in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--val-split", type=float, default=0.2)
    args = parser.parse_args()
    values = series(args.rows + WINDOW, args.seed)
    rows = [values[i:i + WINDOW + 1] for i in range(args.rows)]
    with open(args.out, "w") as f:
        for row in rows:
            f.write(",".join("%.6f" % v for v in row) + "\n")
    held_out = rows[len(rows) - int(len(rows) * args.val_split):]
    mse = sum((r[-1] - r[-2]) ** 2 for r in held_out) / len(held_out)
    print("last-value baseline mse on the last %d rows: %.6f" % (len(held_out), mse))


if __name__ == "__main__":
    main()
