lmforge_oracle_check(ggml_legacy 900 oracle node)  # legacy GGML/GGMF/GGJT: inspect, -> GGUF values, llama.cpp vs PyTorch, ggjt v3 writer, bad input
