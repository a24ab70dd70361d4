#!/bin/sh
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each for SECONDS (default 20),
# seeded from the test fixtures. Any crash, sanitizer report or timeout fails the run.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
cmake -S "$here" -B "$here/build-fuzz" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DLMFORGE_FUZZ=ON -DLMFORGE_TESTS=OFF >/dev/null
ninja -C "$here/build-fuzz" -j"${LMFORGE_JOBS:-2}" fuzzers
fixtures="$here/build/fixtures"
[ -d "$fixtures" ] || /usr/bin/python3 "$here/tools/make_fixtures.py" "$fixtures" >/dev/null
"$here/scripts/fuzz_seeds.sh" "$fixtures" "$here/build-fuzz/seeds" "$here/build/lmforge"
status=0
for h in "$here"/build-fuzz/tests/fuzz/*_fuzz; do
    name=$(basename "$h" _fuzz)
    corpus="$here/build-fuzz/corpus/$name"
    # A harness whose area writes no seeds starts from an empty corpus rather than failing.
    mkdir -p "$corpus" "$here/build-fuzz/seeds/$name"
    echo "fuzz: $name for ${seconds}s"
    if ! "$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
            -artifact_prefix="$here/build-fuzz/crash-$name-" "$corpus" "$here/build-fuzz/seeds/$name" \
            >"$here/build-fuzz/$name.log" 2>&1; then
        echo "fuzz: $name FAILED (log: build-fuzz/$name.log)"; tail -40 "$here/build-fuzz/$name.log"; status=1
    fi
done
[ "$status" = 0 ] && echo "fuzz: all harnesses ran clean"
exit "$status"
