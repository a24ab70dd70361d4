# Checks of the lmforge CLI against implementations nobody on the team wrote: PyTorch (float64
# reference forward pass), libsentencepiece, llama.cpp through node-llama-cpp, and
# @huggingface/gguf. Included from tests/CMakeLists.txt, which defines LMFORGE_FIXTURE_DIR,
# LMFORGE_PYTHON and the `fixtures` ctest fixture.
#
# The node-based checks need `scripts/install_oracles.sh` to have been run once; without
# tests/oracles/node_modules they fail and say so (they never pass silently).

set(LMFORGE_ORACLE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(LMFORGE_ORACLE_WORK ${CMAKE_BINARY_DIR}/oracle-work)

function(lmforge_oracle_check check timeout)
  add_test(NAME oracle.${check}
           COMMAND ${LMFORGE_PYTHON} ${LMFORGE_ORACLE_DIR}/check_${check}.py
                   --lmforge $<TARGET_FILE:lmforge>
                   --fixtures ${LMFORGE_FIXTURE_DIR}
                   --workdir ${LMFORGE_ORACLE_WORK}/${check})
  set_tests_properties(oracle.${check} PROPERTIES
                       FIXTURES_REQUIRED fixtures
                       TIMEOUT ${timeout}
                       LABELS "${ARGN}")
endfunction()

lmforge_oracle_check(llama_cpp 1200 oracle node)   # convert, then llama.cpp vs PyTorch float64
lmforge_oracle_check(gguf_bytes 900 oracle node)   # inspect --json vs @huggingface/gguf
lmforge_oracle_check(roundtrip 600 oracle)         # HF -> GGUF -> HF -> GGUF, .pt -> safetensors
lmforge_oracle_check(bad_input 900 oracle security) # hostile files are refused cleanly
lmforge_oracle_check(tokenizer 900 oracle node) # lmforge tokenize vs libsentencepiece on Brown + stress text
lmforge_oracle_check(forward 900 oracle)         # lmforge logits (scalar forward pass) vs PyTorch float64
lmforge_oracle_check(run 600 oracle)             # lmforge run --temp 0 vs the float64 reference's greedy tokens
lmforge_oracle_check(llama_probs 600 oracle node) # lmforge logits/run vs llama.cpp on the same GGUF (f32..q4_0)
lmforge_oracle_check(perplexity 600 oracle node)  # lmforge perplexity vs llama.cpp's method on its own probabilities
lmforge_oracle_check(demo 300 oracle)              # models/demo: lmforge logits vs PyTorch float64, held-out perplexity

# Each format area adds its checks in its own oracle_<area>.cmake beside this file.
file(GLOB LMFORGE_ORACLE_AREAS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/oracle_*.cmake)
foreach(area ${LMFORGE_ORACLE_AREAS})
  include(${area})
endforeach()
