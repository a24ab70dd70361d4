#!/bin/sh
# Installs what building and running lmforge needs on Debian 12, and nothing more: the
# compiler, CMake + Ninja, Python 3 (a build tool), and the libraries lmforge links (nlohmann-json, CLI11, Highway, OpenBLAS for gptq, SQLite for the index, hnswlib for the approximate index, cpp-httplib for the server).
# The main job (scripts/demo.sh) needs only this; scripts/install_test_deps.sh adds the test
# suite's tools and oracles. Safe to run again.
set -eu
export DEBIAN_FRONTEND=noninteractive
# python3: the build generates the WordPiece tokenizer's Unicode tables from its unicodedata.
pkgs="cmake ninja-build g++ nlohmann-json3-dev libcli11-dev libhwy-dev libopenblas-dev libsqlite3-dev libhnswlib-dev libcpp-httplib-dev pkg-config python3"
missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
