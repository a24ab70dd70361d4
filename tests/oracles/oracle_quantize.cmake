# Quantization against llama.cpp's own tools (issue 10): llama-quantize and friends, built once
# from node-llama-cpp's bundled llama.cpp source by scripts/build_llama_tools.sh into a cache
# outside the clone. scripts/test.sh passes the folder it prints as LMFORGE_LLAMA_TOOLS; when it
# is empty the checks that need the tools fail and say how to build them.
set(LMFORGE_LLAMA_TOOLS "" CACHE PATH
    "Folder holding llama.cpp's tools (llama-quantize ...), as printed by scripts/build_llama_tools.sh")

add_test(NAME oracle.quantize
         COMMAND ${LMFORGE_PYTHON} ${LMFORGE_ORACLE_DIR}/check_quantize.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/quantize
                 --llama-tools "${LMFORGE_LLAMA_TOOLS}")
set_tests_properties(oracle.quantize PROPERTIES
                     FIXTURES_REQUIRED fixtures
                     TIMEOUT 600
                     LABELS "oracle;node;llama_tools")
