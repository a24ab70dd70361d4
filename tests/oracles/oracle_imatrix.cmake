# Importance matrices (issue 10, Deliver 3): `lmforge imatrix` vs llama-imatrix, and
# `lmforge quantize --imatrix` vs llama-quantize --imatrix for every weighted TYPE, with the
# matrix files moving both ways; corrupt matrices refused. Needs llama.cpp's tools
# (LMFORGE_LLAMA_TOOLS, declared in oracle_quantize.cmake).
add_test(NAME oracle.imatrix
         COMMAND ${LMFORGE_PYTHON} ${LMFORGE_ORACLE_DIR}/check_imatrix.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/imatrix
                 --llama-tools "${LMFORGE_LLAMA_TOOLS}")
set_tests_properties(oracle.imatrix PROPERTIES
                     FIXTURES_REQUIRED fixtures
                     TIMEOUT 600
                     LABELS "oracle;node;llama_tools")
