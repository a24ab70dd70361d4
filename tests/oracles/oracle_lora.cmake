# LoRA adapters (issue 13, deliver 4): lmforge with a random PEFT adapter vs PyTorch float64 on
# the merged weights, with the same adapter as GGUF vs llama.cpp (node-llama-cpp's lora option),
# PEFT export read back with numpy, convert --lora merging, and bad adapters refused.
lmforge_oracle_check(lora 900 oracle node)
