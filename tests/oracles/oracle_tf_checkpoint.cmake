# TensorFlow checkpoints and .pb files (check_tf_checkpoint.py). The table layer is checked
# against LevelDB itself: leveldb_table_tool (Debian libleveldb-dev) builds the tables, with
# tiny blocks and restart intervals and with snappy, and our SSTable reader must return the
# same pairs; checkpoints are written from the spec in Python around LevelDB-built indexes.
find_library(LMFORGE_LEVELDB_LIB leveldb)
find_path(LMFORGE_LEVELDB_INCLUDE leveldb/table_builder.h)
if(LMFORGE_LEVELDB_LIB AND LMFORGE_LEVELDB_INCLUDE)
  add_executable(leveldb_table_tool ${CMAKE_CURRENT_LIST_DIR}/leveldb_table_tool.cpp)
  target_include_directories(leveldb_table_tool PRIVATE ${LMFORGE_LEVELDB_INCLUDE})
  target_link_libraries(leveldb_table_tool PRIVATE ${LMFORGE_LEVELDB_LIB})
  set(LMFORGE_TABLE_TOOL $<TARGET_FILE:leveldb_table_tool>)
else()
  # The check then fails and says why; it never passes without its oracle.
  set(LMFORGE_TABLE_TOOL "missing:libleveldb-dev")
endif()

add_test(NAME oracle.tf_checkpoint
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_tf_checkpoint.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/tf_checkpoint
                 --table-tool ${LMFORGE_TABLE_TOOL}
                 --unit-tests $<TARGET_FILE:lmforge_formats_tests>)
set_tests_properties(oracle.tf_checkpoint PROPERTIES TIMEOUT 300 LABELS "oracle")
