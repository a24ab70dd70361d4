#!/usr/bin/python3
"""Dequantize an AutoGPTQ v1 folder (as `lmforge gptq` writes it) into a plain float16 Hugging
Face folder, with the numpy unpacking of check_gptq_cli.py, so that the usual tools (`lmforge
convert`, `lmforge perplexity`) can measure a GPTQ model before the engine reads GPTQ folders.

Usage: gptq_dequantize.py GPTQ_FOLDER OUT_FOLDER
"""

import json
import os
import shutil
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from check_gptq_cli import dequantize  # noqa: E402


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": "F16", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "quantize_config.json")) as f:
        bits = json.load(f)["bits"]
    sd, _ = common.read_safetensors(os.path.join(src, "model.safetensors"))
    sd = {k: v.numpy() for k, v in sd.items()}
    out = {}
    for name, arr in sd.items():
        if name.endswith(".qweight"):
            prefix = name[:-len("qweight")]
            out[prefix + "weight"] = dequantize(sd, prefix, bits)["w"].astype(np.float16)
        elif not name.endswith((".qzeros", ".scales", ".g_idx")):
            out[name] = arr.astype(np.float16)
    os.makedirs(dst, exist_ok=True)
    write_safetensors(os.path.join(dst, "model.safetensors"), out)
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg.pop("quantization_config", None)
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))


if __name__ == "__main__":
    main()
