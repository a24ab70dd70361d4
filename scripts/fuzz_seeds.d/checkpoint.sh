#!/bin/sh
# Seeds for tests/fuzz/checkpoint_fuzz.cpp: small training checkpoints in the layout of
# src/train/checkpoint_format.h, written by an independent Python GGUF encoder (so the seeds
# do not depend on lmforge's writer), plus a few damaged copies.
set -eu
out=$2
mkdir -p "$out/checkpoint"
/usr/bin/python3 - "$out/checkpoint" <<'PY'
import hashlib, json, struct, sys
dst = sys.argv[1]
U32, F32, STR, ARR, U64 = 4, 6, 8, 9, 10

def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b

def kv(key, typ, payload):
    return s(key) + struct.pack("<I", typ) + payload

def arr(elem, items, enc):
    return struct.pack("<IQ", elem, len(items)) + b"".join(enc(i) for i in items)

def checkpoint(shapes, steps, n_windows):
    tensors, blobs = [], []
    for i, shape in enumerate(shapes):
        n = 1
        for d in shape: n *= d
        for k, part in enumerate(("value", "adam_m", "adam_v")):
            data = struct.pack("<%df" % n, *[(j * 0.25 - k) for j in range(n)])
            tensors.append(("t%d.%s" % (i, part), shape, data))
            blobs.append(data)
    p = "lmforge.checkpoint."
    kvs = [
        kv(p + "version", U32, struct.pack("<I", 1)),
        kv(p + "base_sha256", STR, s("ab" * 32)),
        kv(p + "data_sha256", STR, s("cd" * 32)),
        kv(p + "options", STR, s(json.dumps({"ctx": 8, "batch": 2, "lr": 0.001}))),
        kv(p + "step", U64, struct.pack("<Q", steps)),
        kv(p + "epoch", U64, struct.pack("<Q", 1)),
        kv(p + "cursor", U64, struct.pack("<Q", 2)),
        kv(p + "rng", ARR, arr(U64, [1, 2, 3, 4], lambda v: struct.pack("<Q", v))),
        kv(p + "order", ARR, arr(U32, list(range(n_windows))[::-1], lambda v: struct.pack("<I", v))),
        kv(p + "losses", ARR, arr(F32, [3.0 - 0.1 * i for i in range(steps)], lambda v: struct.pack("<f", v))),
        kv(p + "tensor_names", ARR, arr(STR, ["blk.%d.attn_q.weight.lora_a" % i for i in range(len(shapes))], s)),
        kv(p + "tensor_sha256", STR, s(hashlib.sha256(b"".join(blobs)).hexdigest())),
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    offset = 0
    for name, shape, data in tensors:
        head += s(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
        head += struct.pack("<IQ", 0, offset)
        offset += (len(data) + 31) // 32 * 32
    head += b"\0" * ((-len(head)) % 32)
    body = b"".join(d + b"\0" * ((-len(d)) % 32) for _, _, d in tensors)
    return head + body

seeds = {
    "empty-state": checkpoint([], 0, 0),
    "one-tensor": checkpoint([(2, 3)], 3, 5),
    "two-tensors": checkpoint([(4, 2), (3,)], 5, 8),
}
seeds["truncated"] = seeds["two-tensors"][:-7]
damaged = bytearray(seeds["two-tensors"]); damaged[-40] ^= 0x55
seeds["bit-flip"] = bytes(damaged)
for name, data in seeds.items():
    with open("%s/%s.gguf" % (dst, name), "wb") as f:
        f.write(data)
PY
