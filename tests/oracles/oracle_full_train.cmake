# `lmforge train` (issue 13, item 5): a few full-training steps from a fixture model against
# float64 PyTorch + torch.optim.AdamW (losses and every weight), kill -9 resume bit-identity,
# the GGUF output read by lmforge and llama-perplexity (LMFORGE_LLAMA_TOOLS), bad input (check_full_train.py).
add_test(NAME oracle.full_train
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_full_train.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/full_train
                 --demo ${PROJECT_SOURCE_DIR}/models/demo
                 --llama-tools "${LMFORGE_LLAMA_TOOLS}"
                 --log-drain $<TARGET_FILE:llama_log_drain>)
set_tests_properties(oracle.full_train PROPERTIES FIXTURES_REQUIRED fixtures TIMEOUT 900 LABELS "oracle;llama_tools")
