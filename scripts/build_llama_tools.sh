#!/bin/sh
# Builds llama.cpp's command-line tools (llama-quantize, ...) once, from the llama.cpp source
# that node-llama-cpp ships in tests/oracles/node_modules (run scripts/install_oracles.sh
# first), in a cache folder OUTSIDE the clone keyed by node-llama-cpp's version and the bundle's
# commit, so every later run (and every fresh clone on the same machine) reuses it.
# Prints the folder holding the tools and nothing else; on failure prints the build log's tail.
#
#   LMFORGE_CACHE        cache root (default /var/cache/lmforge, or ~/.cache/lmforge when
#                        that cannot be written)
#   LMFORGE_JOBS         parallel compile jobs (default 2)
#   LMFORGE_LLAMA_TOOLS_TIMEOUT  seconds the build may take before it is stopped (default 2400)
#
#   --native   instead: llama-embedding and llama-server built for THIS machine's CPU
#              (GGML_NATIVE, so AVX-512, VNNI and AMX where present), in build-native/ beside
#              the portable build, for throughput comparisons (bench/embed_bench.py,
#              bench/serve_bench.py). The portable build is left as it
#              is: its SSE2 baseline would make llama.cpp look several times slower than it is.
#              Cold, on 2 cores shared at load ~11-18: about 45 min (libllama's ~250 files),
#              so its default time limit is 5400 s; a rerun that finds its stamp takes 0.03 s.
set -eu
mode=portable
if [ "${1:-}" = "--native" ]; then mode=native; fi
here=$(cd "$(dirname "$0")/.." && pwd)
package="$here/tests/oracles/node_modules/node-llama-cpp"
bundle="$package/llama/gitRelease.bundle"
if [ ! -f "$bundle" ] || [ ! -f "$package/package.json" ]; then
    echo "build_llama_tools: $bundle is missing; run scripts/install_oracles.sh first" >&2
    exit 1
fi

# The tools the tests run (oracle.quantize needs llama-quantize). Measured on 2 shared cores,
# cold (clone + configure + build): llama-quantize alone 4.7-6 min; llama-imatrix and
# llama-perplexity add 14 s (they share libllama and common), so they come along for the
# imatrix and perplexity checks to come. llama-server would add 2.8 min (its server library and
# mtmd): left out until a check needs it. llama-tokenize (bench/tokenize_bench.py: llama.cpp's
# own tokenizer binary beside lmforge's) is one more file on the same libraries; adding it to
# an existing cache changes the stamp once and costs one incremental build (measured: see
# docs/benchmarks.md, "Tokenization throughput against llama-tokenize"). A run that finds its
# stamp takes 0.03 s.
targets="llama-quantize llama-imatrix llama-perplexity llama-tokenize"

# Options chosen for a build that needs no network and runs on any CPU of the same
# architecture: GGML_NATIVE=OFF (no -march=native) with every x86 extension left off, so the
# binaries use the architecture's baseline (SSE2 on x86-64) and a cache restored on another
# runner cannot die of an illegal instruction. Speed does not matter here: the checks run tiny
# fixture models, and the quantizers whose bytes we compare are ggml's scalar reference code
# whatever the SIMD level. OpenSSL off (no HTTPS downloads), the web UI neither built with npm
# nor downloaded, static libraries so the bin folder stands alone, ggml's own ccache use off
# (the cache folder is the cache).
options="-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF
 -DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF
 -DGGML_CCACHE=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BACKEND_DL=OFF
 -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
 -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON
 -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF"

version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$package/package.json" | head -n 1)
commit=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')
case "$version" in ''|*[!0-9A-Za-z.+-]*) echo "build_llama_tools: cannot read node-llama-cpp's version" >&2; exit 1;; esac
case "$commit" in *[!0-9a-f]*|'') echo "build_llama_tools: cannot read the bundle's HEAD commit" >&2; exit 1;; esac

cache=${LMFORGE_CACHE:-/var/cache/lmforge}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/lmforge
    mkdir -p "$cache"
fi
dir="$cache/llama.cpp-$version-$commit"
build="$dir/build"
stamp="$dir/built.stamp"
if [ "$mode" = native ]; then
    # Only what the benchmarks run; ggml's own defaults for everything the CPU has
    # (GGML_NATIVE=ON, llamafile's tinyBLAS on), examples on because llama-embedding is one,
    # tools and server on for llama-server (bench/serve_bench.py; its web UI stays off, so
    # nothing is downloaded).
    targets="llama-embedding llama-server"
    options="-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON
 -DGGML_CCACHE=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BACKEND_DL=OFF
 -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
 -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON
 -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF"
    build="$dir/build-native"
    stamp="$dir/built-native.stamp"
fi
bin="$build/bin"
# The stamp records what was built and how; any change to the list or the options rebuilds
# (incrementally) instead of trusting an old build.
want="targets: $targets | options: $options"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$bin"
    exit 0
fi

mkdir -p "$dir"
log="$build.log"  # build.log, or build-native.log
# One builder at a time per key: a second caller waits for the first, then finds its stamp.
exec 9>"$dir/lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$bin"
    exit 0
fi
rm -f "$stamp"

fail() {
    echo "build_llama_tools: $1 (log: $log)" >&2
    tail -n 40 "$log" >&2
    exit 1
}

: >"$log"
if [ ! -f "$dir/src/CMakeLists.txt" ]; then
    rm -rf "$dir/src" "$dir/src.partial"
    git clone --quiet "$bundle" "$dir/src.partial" >>"$log" 2>&1 || fail "cloning the bundle failed"
    mv "$dir/src.partial" "$dir/src"
fi
# shellcheck disable=SC2086 # options is a list of words on purpose
cmake -S "$dir/src" -B "$build" -G Ninja $options >>"$log" 2>&1 || fail "configuring llama.cpp failed"
# shellcheck disable=SC2086
limit=2400
if [ "$mode" = native ]; then limit=5400; fi
timeout "${LMFORGE_LLAMA_TOOLS_TIMEOUT:-$limit}" ninja -C "$build" -j"${LMFORGE_JOBS:-2}" $targets \
    >>"$log" 2>&1 || fail "building $targets failed or ran out of time"
for t in $targets; do
    [ -x "$bin/$t" ] || fail "$bin/$t was not built"
done
echo "$want" >"$stamp"
echo "$bin"
