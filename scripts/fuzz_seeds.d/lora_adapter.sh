#!/bin/sh
# Seeds for tests/fuzz/lora_adapter_fuzz.cpp: a small PEFT adapter (rank 1 on layer 0's q_proj
# and down_proj, for the mha-safetensors fixture's shapes) as 'P' + u16 config length + config +
# safetensors, and the same adapter as a GGUF adapter ('G' + file) written by
# `lmforge lora-convert`.
set -eu
fixtures=$1
out=$2
lmforge=${3:-}
mkdir -p "$out/lora_adapter"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/peft" "$out/lora_adapter/peft.seed" <<'PY'
import json, os, struct, sys
folder, seed = sys.argv[1], sys.argv[2]
os.makedirs(folder)
shapes = {"self_attn.q_proj": (96, 96), "mlp.down_proj": (96, 160)}
header, blobs, off = {}, [], 0
for mod, (out_dim, in_dim) in shapes.items():
    for ab, shape in (("A", (1, in_dim)), ("B", (out_dim, 1))):
        n = shape[0] * shape[1]
        b = struct.pack("<%df" % n, *[((i * 37) % 11 - 5) / 50.0 for i in range(n)])
        header["base_model.model.model.layers.0.%s.lora_%s.weight" % (mod, ab)] = {
            "dtype": "F32", "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
st = struct.pack("<Q", len(h)) + h + b"".join(blobs)
config = json.dumps({"peft_type": "LORA", "r": 1, "lora_alpha": 2, "target_modules": ["q_proj", "down_proj"],
                     "bias": "none", "use_rslora": False, "use_dora": False}).encode()
open(os.path.join(folder, "adapter_model.safetensors"), "wb").write(st)
open(os.path.join(folder, "adapter_config.json"), "wb").write(config)
open(seed, "wb").write(b"P" + struct.pack("<H", len(config)) + config + st)
PY
if [ -z "$lmforge" ] || [ ! -d "$fixtures/hf/mha-safetensors" ]; then
    echo "lora_adapter seeds: no lmforge binary or fixture model; only the PEFT seed" >&2
    exit 0
fi
"$lmforge" convert "$fixtures/hf/mha-safetensors" "$work/base.gguf" --outtype f32 -q --force
"$lmforge" lora-convert -m "$work/base.gguf" "$work/peft" "$work/adapter.gguf" 2>/dev/null
{ printf 'G'; cat "$work/adapter.gguf"; } > "$out/lora_adapter/gguf.seed"
