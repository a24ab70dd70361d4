#!/bin/sh
# Seeds for tests/fuzz/kld_base_fuzz.cpp: with LMFORGE, a small KL-divergence base file of a
# fixture model (2 chunks of 8 tokens), written by `lmforge perplexity --kl-divergence-base`.
set -eu
fixtures=$1
out=$2
lmforge=${3:-}
mkdir -p "$out/kld_base"
if [ -z "$lmforge" ] || [ ! -d "$fixtures/hf/mha-safetensors" ]; then
    echo "kld_base seeds: no lmforge binary or fixture model; the harness starts from nothing" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$lmforge" convert "$fixtures/hf/mha-safetensors" "$work/model.gguf" --outtype f16 -q --force
i=0
while [ $i -lt 2 ]; do echo "the quick brown fox jumps over the lazy dog."; i=$((i+1)); done > "$work/text.txt"
"$lmforge" perplexity -m "$work/model.gguf" -f "$work/text.txt" -c 8 --kl-divergence-base "$out/kld_base/seed.kld" \
    --force --json >/dev/null
