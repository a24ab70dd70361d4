#!/bin/sh
# The main job, end to end: installs what building and running need (not the test oracles),
# builds lmforge, then takes the committed demo
# model (models/demo: a 4 M-parameter LLaMA trained on the Brown corpus by
# tools/train_demo_model.py, Hugging Face layout, F16 safetensors, its own SentencePiece
# tokenizer), converts it to GGUF F16 and Q4_0, inspects the results and generates a
# continuation from the Q4_0 file, with the timing summary; then quantizes it to Q4_K_M
# (llama.cpp's recommended mix) and to GPTQ 4-bit (calibrated on this repository's own docs),
# runs both and compares their perplexity with F16's. Outputs land in build/demo/.
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
echo
echo "== lmforge quantize -> Q4_K_M (llama-quantize's per-tensor mix, byte for byte), with code histograms"
"$lmforge" quantize "$model" "$demo/demo-q4_k_m.gguf" Q4_K_M --hist
echo
echo "== lmforge run: the Q4_K_M file"
"$lmforge" run -m "$demo/demo-q4_k_m.gguf" -p "The jury said" -n 32 -s 1
echo
# Calibration text: the project's own documentation (any text in the model's language will do;
# the demo model was trained on the Brown corpus, which the main job does not download).
cat "$here/README.md" "$here"/docs/*.md > "$demo/calibration.txt"
echo "== lmforge gptq -> GPTQ 4-bit, group size 64 (an AutoGPTQ folder), 32 windows of 256 tokens"
"$lmforge" gptq -m "$model" --calib "$demo/calibration.txt" -o "$demo/demo-gptq-4bit" --bits 4 --group-size 64 \
    --nsamples 32 --seqlen 256
echo
echo "== lmforge inspect demo-gptq-4bit (the folder runs directly)"
"$lmforge" inspect "$demo/demo-gptq-4bit" | head -n 8
echo
echo "== lmforge run: the GPTQ folder"
"$lmforge" run -m "$demo/demo-gptq-4bit" -p "The jury said" -n 32 -s 1
echo
echo "== perplexity on the model card (text the model never saw): F16, Q4_K_M, GPTQ 4-bit"
for m in "$demo/demo-f16.gguf" "$demo/demo-q4_k_m.gguf" "$demo/demo-gptq-4bit"; do
    printf '%-28s ' "$(basename "$m")"
    "$lmforge" perplexity -m "$m" -f "$model/README.md" -c 128 --json |
        sed -n 's/.*"ppl":\([0-9.]*\),"ppl_error":\([0-9.]*\).*/\1 \2/p' | awk '{ printf "perplexity %.2f +- %.2f\n", $1, $2 }'
done
