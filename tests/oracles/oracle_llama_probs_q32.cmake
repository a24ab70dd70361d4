# Probabilities vs llama.cpp for the Q4_1 / Q5_0 / Q5_1 engine kernels (issue 10, Deliver 2):
# files written by `lmforge convert --outtype`, compared with node-llama-cpp on the same file.
lmforge_oracle_check(llama_probs_q32 300 oracle node)
# `convert --outtype` with the quantize mixes (Q4_K_M ...): the bytes of `lmforge quantize`.
lmforge_oracle_check(convert_mix 120 oracle)
