#!/bin/sh
# Configures and builds lmforge (release with debug info) into build/. LMFORGE_TESTS=OFF leaves
# out the test programs (and so GoogleTest), as the main job does. Extra arguments go to CMake
# (scripts/test.sh passes -DLMFORGE_LLAMA_TOOLS=DIR).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMFORGE_WERROR=ON \
      -DLMFORGE_TESTS="${LMFORGE_TESTS:-ON}" "$@" >/dev/null
ninja -C "$here/build" -j"${LMFORGE_JOBS:-2}"
