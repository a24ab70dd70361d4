#!/bin/sh
# The whole test suite: installs dependencies, builds llama.cpp's tools once (cached outside the
# clone, see build_llama_tools.sh), builds lmforge, runs each
# libFuzzer harness for a short time box under ASan + UBSan, then every unit test and every
# cross-check against independent implementations (ctest).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install_test_deps.sh"
"$here/scripts/install_oracles.sh"
llama_tools=$("$here/scripts/build_llama_tools.sh")
"$here/scripts/build.sh" -DLMFORGE_LLAMA_TOOLS="$llama_tools"
"$here/scripts/fuzz.sh" "${LMFORGE_FUZZ_SECONDS:-20}"
cd "$here/build"
ctest --output-on-failure -j2 --timeout 1200
