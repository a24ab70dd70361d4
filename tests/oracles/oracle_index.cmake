# `lmforge index` / `lmforge ask` end to end, read back with Python's sqlite3 module: --json
# formats, incremental runs, kill -9 during index runs (integrity and whole files), bad input
# (check_index.py). No network, no fixtures beyond the committed demo model.
add_test(NAME oracle.index
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_index.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --workdir ${LMFORGE_ORACLE_WORK}/index)
set_tests_properties(oracle.index PROPERTIES TIMEOUT 600 LABELS "oracle")
