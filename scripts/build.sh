#!/bin/sh
# Configures and builds lmforge (release with debug info) into build/.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMFORGE_WERROR=ON >/dev/null
ninja -C "$here/build" -j"${LMFORGE_JOBS:-2}"
