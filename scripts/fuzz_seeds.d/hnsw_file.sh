#!/bin/sh
# Seeds for tests/fuzz/hnsw_file_fuzz.cpp: with LMFORGE, the approximate index file of a small
# index (hash:8 vectors, a threshold of one chunk), written by `lmforge index` itself, once with
# each mode byte (0: checksums as they are, 1: the harness rewrites them).
set -eu
out=$2
lmforge=${3:-}
mkdir -p "$out/hnsw_file"
if [ -z "$lmforge" ]; then
    echo "hnsw_file seeds: no lmforge binary; the harness starts from nothing" >&2
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/text"
i=0
while [ $i -lt 30 ]; do echo "line $i of the seed text: cats and dogs, cars and trucks, rain and snow."; i=$((i+1)); done > "$work/text/a.txt"
LMFORGE_ANN_MIN_CHUNKS=1 "$lmforge" index --db "$work/i.db" -m hash:8 --chunk-size 120 --chunk-overlap 0 -q -t 1 "$work/text" >/dev/null
for mode in 0 1; do
    { printf "\\$(printf '%03o' "$mode")"; cat "$work/i.db.hnsw"; } > "$out/hnsw_file/seed-$mode"
done
