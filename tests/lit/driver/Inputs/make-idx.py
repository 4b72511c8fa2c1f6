#!/usr/bin/env python3
"""Writes a small IDX file for the dnn-run train/eval tests.

make-idx.py OUT DIM... --values V... [--magic 0xNNNNNNNN] [--truncate BYTES] [--gzip]

The values are unsigned bytes (the pixels or labels); --magic overrides the
magic (default 0x00000800 | the number of dims); --truncate keeps only the
first BYTES bytes of the file (before compression); --gzip compresses it.
"""
import argparse
import gzip
import struct

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("dims", type=int, nargs="+")
parser.add_argument("--values", type=int, nargs="*", default=[])
parser.add_argument("--magic", type=lambda s: int(s, 0))
parser.add_argument("--truncate", type=int)
parser.add_argument("--gzip", action="store_true")
args = parser.parse_args()

magic = args.magic if args.magic is not None else 0x800 | len(args.dims)
data = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in args.dims)
data += bytes(args.values)
if args.truncate is not None:
    data = data[:args.truncate]
with open(args.out, "wb") as f:
    f.write(gzip.compress(data) if args.gzip else data)
