#!/bin/sh
# Seeds for tests/fuzz/gptq_linear_fuzz.cpp: four settings bytes (see the harness), then a
# valid safetensors file with one GPTQ linear "l" of 8 outputs and 64 inputs, packed as
# AutoGPTQ packs it (int32 words, codes from the lowest bits up), for 4 and 8 bits.
set -eu
out=$2
mkdir -p "$out/gptq_linear"
/usr/bin/python3 - "$out/gptq_linear" <<'PY'
import json, struct, sys

def safetensors(tensors):
    header, blobs, off = {}, [], 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)

def pack(values, bits):  # consecutive values into little-endian int32 words, lowest bits first
    per = 32 // bits
    words = []
    for k in range(0, len(values), per):
        w = 0
        for j, v in enumerate(values[k:k + per]):
            w |= v << (bits * j)
        words.append(w)
    return struct.pack("<%dI" % len(words), *words)

def linear(bits, group, out_features=8, in_features=64, v1=True, act_order=False):
    per = 32 // bits
    groups = in_features // group
    codes = [[(o * 7 + i * 3) % (1 << bits) for i in range(in_features)] for o in range(out_features)]
    # qweight [in / per, out]: word (k, o) holds inputs k*per .. k*per+per-1 of output o.
    qweight = b"".join(pack([codes[o][k * per + j] for j in range(per)], bits)
                       for k in range(in_features // per) for o in range(out_features))
    zero = (1 << bits) // 2 - (1 if v1 else 0)
    qzeros = b"".join(pack([zero] * out_features, bits) for _ in range(groups))
    scales = b"".join(struct.pack("<e", 0.01 * (g + 1) + 0.001 * o) for g in range(groups) for o in range(out_features))
    g_idx = [i // group for i in range(in_features)]
    if act_order:
        g_idx = [(i * 5) % groups for i in range(in_features)] if groups > 1 else g_idx
    return [("l.qweight", "I32", [in_features // per, out_features], qweight),
            ("l.qzeros", "I32", [groups, out_features // per], qzeros),
            ("l.scales", "F16", [groups, out_features], scales),
            ("l.g_idx", "I32", [in_features], struct.pack("<%di" % in_features, *g_idx))]

BITS = {2: 0, 3: 1, 4: 2, 8: 3}
GROUP = {32: 1, 64: 2, 128: 3}
def settings(bits, group, act_order=False, sym=True, v2=False):
    b0 = BITS[bits] | GROUP[group] << 2 | (16 if act_order else 0) | (32 if sym else 0) | (64 if v2 else 0)
    return bytes([b0, 7, 1, 0])  # 8 outputs, 64 inputs

seeds = {
    "q4-g32-sym-v1": settings(4, 32) + safetensors(linear(4, 32)),
    "q4-g32-asym-v2": settings(4, 32, sym=False, v2=True) + safetensors(linear(4, 32, v1=False)),
    "q4-g32-act-order": settings(4, 32, act_order=True) + safetensors(linear(4, 32, act_order=True)),
    "q8-g64-v1": settings(8, 64) + safetensors(linear(8, 64)),
    "q2-g32-v1": settings(2, 32) + safetensors(linear(2, 32)),
}
for name, data in seeds.items():
    with open("%s/%s" % (sys.argv[1], name), "wb") as f:
        f.write(data)
PY
