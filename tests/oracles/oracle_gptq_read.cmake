# GPTQ checkpoint folders (issue 10): read, run (reference and fast engines), inspect and convert,
# against an independent numpy writer, PyTorch float64 and llama.cpp; bad folders refused.
lmforge_oracle_check(gptq_read 900 oracle node)
