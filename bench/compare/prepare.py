"""Writes what every contender of bench/compare.sh needs, per model: the
PyTorch weights as safetensors (for dnnc), an ONNX export (for ONNX Runtime),
and for batch 1 and 32 an input and PyTorch's output (raw float32 and .npy),
plus manifest.json.

Usage: /usr/bin/python3 prepare.py OUTDIR [model...]
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo  # noqa: E402

BATCHES = (1, 32)


def write_safetensors(path, state_dict):
    """The safetensors layout: u64 header length, JSON header, raw data."""
    header, blobs, offset = {}, [], 0
    for name, tensor in state_dict.items():
        if not tensor.is_floating_point():  # batchnorm's num_batches_tracked
            continue
        data = tensor.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)


def main():
    outdir = sys.argv[1]
    names = sys.argv[2:] or list(zoo.MODELS)
    os.makedirs(outdir, exist_ok=True)
    manifest_path = os.path.join(outdir, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    for name in names:
        model = zoo.build(name)
        entry = {"source": zoo.SOURCES[name], "input_shape": list(zoo.INPUT_SHAPES[name]),
                 "flops_per_sample": zoo.flops_per_sample(name),
                 "weights": os.path.join(outdir, f"{name}.safetensors"),
                 "onnx": os.path.join(outdir, f"{name}.onnx")}
        write_safetensors(entry["weights"], model.state_dict())
        with torch.no_grad():
            torch.onnx.export(model, zoo.make_input(name, 1), entry["onnx"], opset_version=13,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                              do_constant_folding=True)
            for batch in BATCHES:
                x = zoo.make_input(name, batch)
                y = model(x)
                stem = os.path.join(outdir, f"{name}_b{batch}")
                np.save(stem + "_in.npy", x.numpy())
                np.save(stem + "_ref.npy", y.numpy())
                x.numpy().astype("<f4").tofile(stem + "_in.bin")
                y.numpy().astype("<f4").tofile(stem + "_ref.bin")
        manifest[name] = entry
        print(f"prepared {name}: {entry['flops_per_sample'] / 1e6:.3f} MFLOP/sample", flush=True)
    json.dump(manifest, open(manifest_path, "w"), indent=1)


if __name__ == "__main__":
    main()
