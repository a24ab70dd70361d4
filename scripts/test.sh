#!/bin/sh
# The whole test suite: installs dependencies, builds, runs each
# libFuzzer harness for a short time box under ASan + UBSan, then every unit test and every
# cross-check against independent implementations (ctest).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install_test_deps.sh"
"$here/scripts/install_oracles.sh"
"$here/scripts/build.sh"
"$here/scripts/fuzz.sh" "${LMFORGE_FUZZ_SECONDS:-20}"
cd "$here/build"
ctest --output-on-failure -j2 --timeout 1200
