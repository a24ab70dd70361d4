#!/bin/sh
# The main job, end to end: installs what building and running need (not the test oracles),
# builds lmforge, then takes the committed demo
# model (models/demo: a 4 M-parameter LLaMA trained on the Brown corpus by
# tools/train_demo_model.py, Hugging Face layout, F16 safetensors, its own SentencePiece
# tokenizer), converts it to GGUF F16 and Q4_0, inspects the results and generates a
# continuation from the Q4_0 file, with the timing summary. Outputs land in build/demo/.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install_build_deps.sh"   # running needs no test oracles
LMFORGE_TESTS=OFF "$here/scripts/build.sh"
lmforge="$here/build/lmforge"
model="$here/models/demo"
demo="$here/build/demo"
rm -rf "$demo"
mkdir -p "$demo"
echo "== lmforge inspect models/demo (Hugging Face folder; how it was made: models/demo/README.md)"
"$lmforge" inspect "$model" | head -n 16
echo
echo "== lmforge convert -> GGUF F16"
"$lmforge" convert "$model" "$demo/demo-f16.gguf" --outtype f16
echo
echo "== lmforge convert -> GGUF Q4_0"
"$lmforge" convert "$model" "$demo/demo-q4_0.gguf" --outtype q4_0
echo
echo "== lmforge inspect demo-q4_0.gguf"
"$lmforge" inspect "$demo/demo-q4_0.gguf"
echo
echo "== lmforge run: a 64-token continuation from the Q4_0 file"
"$lmforge" run -m "$demo/demo-q4_0.gguf" -p "The jury said" -n 64 -s 1
