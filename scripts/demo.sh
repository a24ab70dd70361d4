#!/bin/sh
# The main job, end to end: installs what building and running need (not the test oracles),
# builds lmforge, then takes the committed demo
# model (models/demo: a 4 M-parameter LLaMA trained on the Brown corpus by
# tools/train_demo_model.py, Hugging Face layout, F16 safetensors, its own SentencePiece
# tokenizer), converts it to GGUF F16 and Q4_0, inspects the results and generates a
# continuation from the Q4_0 file, with the timing summary; then quantizes it to Q4_K_M
# (llama.cpp's recommended mix) and to GPTQ 4-bit (calibrated on this repository's own docs),
# runs both and compares their perplexity with F16's. Last, it indexes the project's docs/ with
# the bundled embedding model (models/embed: a 1.4 M-parameter BERT trained on the Brown corpus
# by tools/train_embedder.py) and asks one question, answered by the demo model from the
# retrieved chunks, sources shown. Then it fine-tunes a LoRA adapter on a text fragment
# (examples/lighthouse.txt), killing the run once and resuming it to the same bytes, and runs the
# model with the adapter. Outputs land in build/demo/.
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
echo
# The demo model's context is 256 tokens, so the chunks are small and it is given one.
# ask uses the default hybrid mode (BM25 + vectors); the bundled embedder is weak on technical
# text, where --mode bm25 alone retrieves better (numbers: models/embed/README.md).
echo "== lmforge index: the project's docs/ with the bundled embedding model (models/embed), BM25 + vectors"
cd "$here"   # the index records the paths as given: sources read docs/..., the model models/embed
"$lmforge" index --db "$demo/docs.db" -m models/embed docs --chunk-size 300 --chunk-overlap 60
echo
question="Which instruction multiplies 8-bit tiles for Q4_0 prompts on Sapphire Rapids?"
echo "== lmforge ask --retrieve-only: hybrid retrieval (BM25 + vectors, reciprocal rank fusion)"
"$lmforge" ask --db "$demo/docs.db" "$question" -k 2 --retrieve-only
echo
echo "== lmforge ask: the demo model answers from the retrieved chunks (it knows Brown-corpus English, not lmforge), then the sources"
"$lmforge" ask --db "$demo/docs.db" "$question" -k 1 -m "$demo/demo-q4_0.gguf" -n 32 -s 1
echo
# Fine-tuning: a LoRA adapter on a text fragment the demo model never saw (examples/lighthouse.txt),
# trained on the frozen F16 base. The first run is killed (kill -9) once it has written a
# checkpoint; --resume finishes it, and the adapter is byte-identical to an uninterrupted run's.
fragment="$here/examples/lighthouse.txt"
train="--ctx 32 --batch 2 --steps 30 --lr 3e-3 --seed 3 --checkpoint-every 5"
echo "== lmforge finetune: LoRA rank 8 on examples/lighthouse.txt, 30 steps (uninterrupted run)"
# shellcheck disable=SC2086
"$lmforge" finetune -m "$demo/demo-f16.gguf" --data "$fragment" -o "$demo/lighthouse.gguf" $train \
    --checkpoint-dir "$demo/ckpt-whole" 2>&1 | tail -n 4
echo
echo "== the same run killed with kill -9 after its first checkpoint, then --resume"
# shellcheck disable=SC2086
"$lmforge" finetune -m "$demo/demo-f16.gguf" --data "$fragment" -o "$demo/lighthouse-resumed.gguf" $train \
    --checkpoint-dir "$demo/ckpt" >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -e "$demo/ckpt/checkpoint.gguf" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
# shellcheck disable=SC2086
"$lmforge" finetune -m "$demo/demo-f16.gguf" --data "$fragment" -o "$demo/lighthouse-resumed.gguf" $train \
    --checkpoint-dir "$demo/ckpt" --resume 2>&1 | tail -n 1
cmp "$demo/lighthouse.gguf" "$demo/lighthouse-resumed.gguf" && echo "resumed adapter == uninterrupted adapter (byte for byte)"
echo
echo "== perplexity of the fragment without and with the adapter (llama.cpp loads it too: llama-cli --lora)"
fragment_ppl() {  # label, then the extra perplexity flags
    label=$1
    shift
    printf '%-14s ' "$label"
    "$lmforge" perplexity -m "$demo/demo-f16.gguf" "$@" -f "$fragment" -c 64 --json |
        sed -n 's/.*"ppl":\([0-9.]*\),.*/\1/p' | awk '{ printf "perplexity %.2f\n", $1 }'
}
fragment_ppl base
fragment_ppl "with adapter" --lora "$demo/lighthouse.gguf"
echo
echo "== lmforge run with the adapter"
"$lmforge" run -m "$demo/demo-f16.gguf" --lora "$demo/lighthouse.gguf" -p "The lighthouse keeper" -n 32 -s 1
