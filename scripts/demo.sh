#!/bin/sh
# The main job, end to end: installs dependencies, builds lmforge, makes a small LLaMA model
# in Hugging Face layout (random weights, a real SentencePiece tokenizer), converts it to GGUF
# F16 and Q8_0, inspects the results and generates from the Q8_0 file. Outputs land in build/demo/.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install_deps.sh"
"$here/scripts/build.sh"
lmforge="$here/build/lmforge"
demo="$here/build/demo"
rm -rf "$demo"
mkdir -p "$demo"
echo "== making a small LLaMA model in Hugging Face layout"
/usr/bin/python3 "$here/tools/make_fixtures.py" "$demo/fixtures" >/dev/null
model="$demo/fixtures/hf/mha-safetensors"
"$lmforge" inspect "$model" | head -n 12
echo
echo "== lmforge convert -> GGUF F16"
"$lmforge" convert "$model" "$demo/model-f16.gguf" --outtype f16
echo
echo "== lmforge convert -> GGUF Q8_0"
"$lmforge" convert "$model" "$demo/model-q8_0.gguf" --outtype q8_0
echo
echo "== lmforge inspect model-q8_0.gguf"
"$lmforge" inspect "$demo/model-q8_0.gguf"
echo
echo "== lmforge run (the weights are random: expect gibberish until the trained demo model lands)"
"$lmforge" run -m "$demo/model-q8_0.gguf" -p "The license grants" -n 24 --seed 1
