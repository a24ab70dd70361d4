# `lmforge gptq` (issue 10, item 4): the solver against a float64 numpy GPTQ written from the
# paper and AutoGPTQ's semantics (gptq_reference.py), and the command on models/demo: folder
# layout, packing read back independently, reconstruction errors, GPTQ < RTN, bad input.
lmforge_oracle_check(gptq 300 oracle)
lmforge_oracle_check(gptq_cli 600 oracle)
