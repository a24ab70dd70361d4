# The WordPiece (BERT) tokenizer against Hugging Face's tokenizers.js (@huggingface/tokenizers,
# pinned in package.json) on generated vocabularies and a stress text (check_wordpiece.py).
# The library is driven through tests/tokenizer/wordpiece_ids_tool.cpp until `lmforge tokenize`
# reads BERT folders.
add_executable(wordpiece_ids_tool ${PROJECT_SOURCE_DIR}/tests/tokenizer/wordpiece_ids_tool.cpp)
target_link_libraries(wordpiece_ids_tool PRIVATE lmforge_tokenizer)
add_test(NAME oracle.wordpiece
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_wordpiece.py
                 --tool $<TARGET_FILE:wordpiece_ids_tool>
                 --workdir ${LMFORGE_ORACLE_WORK}/wordpiece)
set_tests_properties(oracle.wordpiece PROPERTIES TIMEOUT 300 LABELS "oracle;node")
