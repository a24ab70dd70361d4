# K-quant engine kernels (issue 10): lmforge's probabilities on Q2_K ... Q6_K files written by
# `lmforge quantize` against llama.cpp's (node-llama-cpp) on the same files, on a generated model
# whose rows are multiples of 256 (the shared fixtures' are not, so they never hold K types).
lmforge_oracle_check(llama_probs_kquants 600 oracle node)
