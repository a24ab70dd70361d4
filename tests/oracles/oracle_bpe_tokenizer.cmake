# The byte-level BPE tokenizer (Llama 3, Qwen2, GPT-2, SmolLM) against llama.cpp's tokenizer
# (node-llama-cpp, vocabulary only, on the vocab GGUFs of llama.cpp's source) and against
# tokenizers.js on the tokenizer.json lmforge exports; a tokenizer.json folder converted and
# loaded by llama.cpp (check_bpe_tokenizer.py).
lmforge_oracle_check(bpe_tokenizer 1800 oracle node)
