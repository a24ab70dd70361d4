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
