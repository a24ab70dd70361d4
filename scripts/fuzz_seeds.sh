#!/bin/sh
# Seeds each fuzz harness with the matching fixture files: FIXTURES -> OUT/<harness>/.
# With LMFORGE (a built binary) it also converts a fixture model to valid GGUF seeds.
set -eu
fixtures=$1
out=$2
lmforge=${3:-}
rm -rf "$out"
mkdir -p "$out/gguf" "$out/safetensors" "$out/zip" "$out/pickle" "$out/protobuf"
small() { find "$fixtures" "$@" -type f -size -256k; }
n=0
for f in $(small -name '*.gguf'); do n=$((n+1)); cp "$f" "$out/gguf/$n"; done
if [ -n "$lmforge" ] && [ -d "$fixtures/hf/mha-safetensors" ]; then
    for t in f16 q8_0 q4_0; do
        "$lmforge" convert "$fixtures/hf/mha-safetensors" "$out/gguf/valid-$t.gguf" --outtype "$t" -q --force
    done
fi
for f in $(small -name '*.safetensors'); do n=$((n+1)); cp "$f" "$out/safetensors/$n"; done
for f in $(small \( -name '*.bin' -o -name '*.pt' \)); do n=$((n+1)); cp "$f" "$out/zip/$n"; done
for f in $(small -name 'tokenizer.model'); do n=$((n+1)); cp "$f" "$out/protobuf/$n"; done
# Pickle seeds: the data.pkl records of torch zip files (read as bytes, never unpickled).
/usr/bin/python3 - "$out/zip" "$out/pickle" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
for name in os.listdir(src):
    try:
        with zipfile.ZipFile(os.path.join(src, name)) as z:
            for info in z.infolist():
                if info.filename.endswith("data.pkl") and info.file_size < 1 << 20:
                    with open(os.path.join(dst, name), "wb") as f:
                        f.write(z.read(info))
    except Exception:
        pass
PY
# Each format area seeds its own harness: scripts/fuzz_seeds.d/<area>.sh FIXTURES OUT LMFORGE
# writes into OUT/<harness>/.
for s in "$(dirname "$0")"/fuzz_seeds.d/*.sh; do
    [ -f "$s" ] && sh "$s" "$fixtures" "$out" "$lmforge"
done
exit 0
