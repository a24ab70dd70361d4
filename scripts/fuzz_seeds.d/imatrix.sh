#!/bin/sh
# Seeds for tests/fuzz/imatrix_fuzz.cpp: with LMFORGE, small importance matrices of a fixture
# model in both layouts (GGUF and the legacy .dat), written by `lmforge imatrix` itself.
set -eu
fixtures=$1
out=$2
lmforge=${3:-}
mkdir -p "$out/imatrix"
if [ -z "$lmforge" ] || [ ! -d "$fixtures/hf/mha-safetensors" ]; then
    echo "imatrix seeds: no lmforge binary or fixture model; the harness starts from nothing" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$lmforge" convert "$fixtures/hf/mha-safetensors" "$work/model.gguf" --outtype f16 -q --force
i=0
while [ $i -lt 40 ]; do echo "the quick brown fox jumps over the lazy dog, and the jury said nothing at all."; i=$((i+1)); done > "$work/text.txt"
"$lmforge" imatrix -m "$work/model.gguf" -f "$work/text.txt" -c 16 --chunks 3 -o "$out/imatrix/seed.gguf" -q --force
"$lmforge" imatrix -m "$work/model.gguf" -f "$work/text.txt" -c 16 --chunks 3 -o "$out/imatrix/seed.dat" --output-format dat -q --force
