# KL divergence (issue 10, Deliver 8's quality table): `lmforge perplexity --kl-divergence-base /
# --kl-divergence` against llama-perplexity, base files moving both ways, corrupt base files
# refused. Needs llama.cpp's tools (LMFORGE_LLAMA_TOOLS, declared in oracle_quantize.cmake).
# Preloaded into llama-perplexity so that its last log lines survive exit (see the source).
add_library(llama_log_drain MODULE ${CMAKE_CURRENT_LIST_DIR}/llama_log_drain.cpp)

add_test(NAME oracle.kl_divergence
         COMMAND ${LMFORGE_PYTHON} ${LMFORGE_ORACLE_DIR}/check_kl_divergence.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/kl_divergence
                 --llama-tools "${LMFORGE_LLAMA_TOOLS}"
                 --log-drain $<TARGET_FILE:llama_log_drain>)
set_tests_properties(oracle.kl_divergence PROPERTIES
                     FIXTURES_REQUIRED fixtures
                     TIMEOUT 600
                     LABELS "oracle;llama_tools")
