#!/bin/sh
# Seeds for tests/fuzz/ggml_legacy_fuzz.cpp: the tiny legacy files of every version x type that
# tools/make_ggml_legacy.py writes (the largest, F32, are left out to keep runs fast).
# Usage: ggml_legacy.sh FIXTURES OUT [LMFORGE]
set -eu
out=$2/ggml_legacy
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
/usr/bin/python3 - "$here/tools" "$tmp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import make_ggml_legacy
make_ggml_legacy.generate(sys.argv[2], reference=False)
PY
for f in "$tmp"/*.bin; do
    case "$f" in *-f32.bin) continue ;; esac
    cp "$f" "$out/"
done
