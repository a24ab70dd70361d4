#!/usr/bin/python3
"""An independent GPTQ checkpoint writer for the tests (numpy only, written from the format
notes in shared/reference/gptq.md section 2, not from lmforge's C++).

    gptq_writer.py SRC_HF_FOLDER OUT_FOLDER [--bits 4] [--group-size 32] [--act-order]
                   [--asym] [--format gptq|gptq_v2] [--config quantize_config|config|quant_config]
                   [--dequantized DIR] [--seed 0] [--random-codes] [--autogptq-name]

Every decoder linear (q, k, v, o, gate, up, down) of SRC is quantized round-to-nearest per
group with GPTQ's min/max quantizer (range always holds 0; --asym: zero = round(-min/scale),
else symmetric with zero (2^bits)/2), optionally with an act-order permutation (a seeded random
column order: groups are consecutive in that order, g_idx[c] = position_of_c // group_size), and
written in the AutoGPTQ layout: model.safetensors with <module>.qweight (int32, codes packed
along the inputs), .qzeros (int32, zero points packed along the outputs; v1 stores zero - 1
masked to the field, v2 the zero itself), .scales (f16), .g_idx (int32); every other tensor f16.
With v1 and --asym the first group of the first linear's first row is given zero point 0 (stored
as all ones), which a v1 reader takes as 2^bits, as AutoGPTQ does.

--dequantized DIR also writes a plain Hugging Face folder (f32) holding exactly the weights a
GPTQ reader must see (scale * (code - zero as read)), for the float64 torch reference.
--random-codes skips the quantization (uniform random codes, scales around 0.01): fast, for
speed benchmarks of big shapes.
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_hf_config, load_hf_state_dict  # noqa: E402

LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
NP_DTYPE = {"F32": np.float32, "F16": np.float16, "I32": np.int32}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, numpy array); dtypes F32/F16/I32."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, a in tensors:
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
                 np.dtype(np.int32): "I32"}[a.dtype]
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def pack_stream(codes, bits):
    """codes [M, L] (uint, < 2^bits), M a multiple of 32 / gcd(32, bits): each column's codes as
    one little-endian bit stream, code m at stream bits [m * bits, m * bits + bits) -> uint32
    words [M * bits / 32, L]."""
    m, l = codes.shape
    words = np.zeros((m * bits // 32, l), dtype=np.uint64)
    c = codes.astype(np.uint64)
    for j in range(m):
        pos = j * bits
        w, sh = pos // 32, pos % 32
        words[w] |= (c[j] << np.uint64(sh)) & np.uint64(0xFFFFFFFF)
        if sh + bits > 32:
            words[w + 1] |= c[j] >> np.uint64(32 - sh)
    return words.astype(np.uint32).view(np.int32)


def pack_stream_fast(codes, bits):
    """pack_stream for 2, 4, 8 bits, vectorised (no code crosses a word)."""
    if bits == 3:
        return pack_stream(codes, bits)
    per = 32 // bits
    m, l = codes.shape
    c = codes.astype(np.uint32).reshape(m // per, per, l)
    words = np.zeros((m // per, l), dtype=np.uint32)
    for j in range(per):
        words |= c[:, j, :] << np.uint32(bits * j)
    return words.view(np.int32)


def quantize(w, bits, gs, sym, perm):
    """w [N, K] float64 -> codes [N, K] uint8, scales [G, N] f16, zeros [G, N] int, g_idx [K]."""
    n, k = w.shape
    maxq = 2 ** bits - 1
    g_idx = np.zeros(k, dtype=np.int32)
    order = perm if perm is not None else np.arange(k)
    for p, c in enumerate(order):
        g_idx[c] = p // gs
    groups = (k + gs - 1) // gs
    codes = np.zeros((n, k), dtype=np.uint8)
    scales = np.zeros((groups, n), dtype=np.float16)
    zeros = np.zeros((groups, n), dtype=np.int64)
    for g in range(groups):
        cols = np.nonzero(g_idx == g)[0]
        x = w[:, cols]
        xmin = np.minimum(x.min(1), 0.0)
        xmax = np.maximum(x.max(1), 0.0)
        if sym:
            xmax = np.maximum(np.abs(xmin), xmax)
            xmin = np.where(xmin < 0, -xmax, xmin)
        both0 = (xmin == 0) & (xmax == 0)
        xmin = np.where(both0, -1.0, xmin)
        xmax = np.where(both0, 1.0, xmax)
        scale = (xmax - xmin) / maxq
        zero = np.full(n, (maxq + 1) // 2) if sym else np.round(-xmin / scale).astype(np.int64)
        q = np.clip(np.round(x / scale[:, None]) + zero[:, None], 0, maxq)
        codes[:, cols] = q.astype(np.uint8)
        scales[g] = scale.astype(np.float16)
        zeros[g] = zero
    return codes, scales, zeros, g_idx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--bits", type=int, default=4, choices=(2, 3, 4, 8))
    ap.add_argument("--group-size", type=int, default=32)
    ap.add_argument("--act-order", action="store_true")
    ap.add_argument("--asym", action="store_true")
    ap.add_argument("--format", default="gptq", choices=("gptq", "gptq_v2"))
    ap.add_argument("--config", default="quantize_config",
                    choices=("quantize_config", "config", "quant_config"))
    ap.add_argument("--dequantized", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random-codes", action="store_true")
    ap.add_argument("--autogptq-name", action="store_true",
                    help="name the weights gptq_model-<bits>bit-<group_size>g.safetensors, as AutoGPTQ does")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    bits, v2 = args.bits, args.format == "gptq_v2"
    mask = 2 ** bits - 1

    cfg = load_hf_config(args.src)
    sd = load_hf_state_dict(args.src)
    os.makedirs(args.out, exist_ok=True)
    out, deq = [], []
    first = True
    for name, t in sd.items():
        a = t.to(dtype=t.dtype if t.dtype.is_floating_point else t.dtype).float().numpy().astype(np.float64)
        module = name[:-len(".weight")] if name.endswith(".weight") else None
        if module is None or not any(module.endswith(s) for s in LINEARS):
            h = a.astype(np.float16)
            out.append((name, h))
            deq.append((name, h.astype(np.float32)))
            continue
        n, k = a.shape
        gs = k if args.group_size == -1 else args.group_size
        perm = rng.permutation(k) if args.act_order else None
        if args.random_codes:
            g_idx = (np.arange(k) // gs).astype(np.int32) if perm is None else np.argsort(perm).astype(np.int32) // gs
            groups = (k + gs - 1) // gs
            codes = rng.integers(0, mask + 1, size=(n, k), dtype=np.uint8)
            scales = (0.01 + 0.002 * rng.standard_normal((groups, n))).astype(np.float16)
            zeros = np.full((groups, n), (mask + 1) // 2, dtype=np.int64)
        else:
            codes, scales, zeros, g_idx = quantize(a, bits, gs, not args.asym, perm)
        if first and args.asym and not v2:
            # A v1 zero point of 0: stored as all ones, read back as 2^bits.
            g0 = g_idx[0]
            zeros[g0, 0] = 0
            cols = np.nonzero(g_idx == g0)[0]
            codes[0, cols] = np.clip(np.round(a[0, cols] / float(scales[g0, 0])), 0, mask)
        first = False
        stored = (zeros - 1) & mask if not v2 else zeros
        read_zero = stored + 1 if not v2 else stored
        if deq is not None and args.dequantized:
            s = scales.astype(np.float64)[g_idx, :].T            # [N, K]
            z = read_zero[g_idx, :].T
            deq.append((name, (s * (codes.astype(np.float64) - z)).astype(np.float32)))
        out.append((module + ".qweight", pack_stream_fast(codes.T.copy(), bits)))     # [K*b/32, N]
        out.append((module + ".qzeros", pack_stream_fast(stored.T.astype(np.uint32), bits).T.copy()))
        out.append((module + ".scales", scales))
        out.append((module + ".g_idx", g_idx.astype(np.int32)))

    base = "gptq_model-%dbit-%dg" % (bits, args.group_size) if args.autogptq_name else "model"
    qc = {"bits": bits, "group_size": args.group_size, "damp_percent": 0.01,
          "desc_act": bool(args.act_order), "static_groups": False, "sym": not args.asym,
          "true_sequential": True, "model_name_or_path": None,
          "model_file_base_name": base, "quant_method": "gptq",
          "checkpoint_format": args.format}
    write_safetensors(os.path.join(args.out, base + ".safetensors"), out, {"format": "pt"})
    for f in os.listdir(args.src):
        if f.endswith((".safetensors", ".bin", ".index.json")) or f == "config.json":
            continue
        shutil.copy(os.path.join(args.src, f), os.path.join(args.out, f))
    qcfg = dict(cfg)
    qcfg["torch_dtype"] = "float16"
    if args.config == "config":
        qcfg["quantization_config"] = qc
    else:
        with open(os.path.join(args.out, args.config + ".json"), "w") as f:
            json.dump(qc, f, indent=2)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(qcfg, f, indent=2)

    if args.dequantized:
        os.makedirs(args.dequantized, exist_ok=True)
        write_safetensors(os.path.join(args.dequantized, "model.safetensors"), deq)
        for f in os.listdir(args.src):
            if not f.endswith((".safetensors", ".bin", ".index.json")):
                shutil.copy(os.path.join(args.src, f), os.path.join(args.dequantized, f))


if __name__ == "__main__":
    main()
