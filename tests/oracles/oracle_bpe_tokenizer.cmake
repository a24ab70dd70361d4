# The byte-level BPE tokenizer (Llama 3, Qwen2, GPT-2, SmolLM) against llama.cpp's tokenizer
# (node-llama-cpp, vocabulary only, on the vocab GGUFs of llama.cpp's source) and against
# tokenizers.js on the tokenizer.json lmforge exports (check_bpe_tokenizer.py).
add_test(NAME oracle.bpe_tokenizer
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_bpe_tokenizer.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --workdir ${LMFORGE_ORACLE_WORK}/bpe_tokenizer)
set_tests_properties(oracle.bpe_tokenizer PROPERTIES TIMEOUT 1800 LABELS "oracle;node")
