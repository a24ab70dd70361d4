# `lmforge quantize` as a command (issue 10, item 1): help, bad TYPE, refusals, --json shape.
lmforge_oracle_check(quantize_cli 120 oracle)
# Its per-tensor type comparison with `llama-quantize --dry-run` runs when the tools are built
# (LMFORGE_LLAMA_TOOLS, declared in oracle_quantize.cmake; scripts/test.sh sets it).
if(LMFORGE_LLAMA_TOOLS)
  set_tests_properties(oracle.quantize_cli PROPERTIES
                       ENVIRONMENT "LMFORGE_LLAMA_QUANTIZE=${LMFORGE_LLAMA_TOOLS}/llama-quantize")
endif()
