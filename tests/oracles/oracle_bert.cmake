# BERT-family embeddings: tiny random BERT folders made at test time by
# tools/make_bert_fixtures.py (its own ctest fixture, so the main fixture set is untouched), then
# `lmforge embed` against an independent float64 PyTorch BertModel (check_bert.py) and bad BERT
# input refused with one line (check_bert_bad_input.py); the GGUF that `convert` writes against
# llama.cpp's embeddings (check_bert_llama_cpp.py). LLaMA-family embeddings against
# llama.cpp's embedding context through node-llama-cpp: check_llama_embed.py.
set(LMFORGE_BERT_FIXTURE_DIR ${CMAKE_BINARY_DIR}/fixtures-bert)
add_test(NAME fixtures.bert
         COMMAND ${LMFORGE_PYTHON} ${PROJECT_SOURCE_DIR}/tools/make_bert_fixtures.py ${LMFORGE_BERT_FIXTURE_DIR})
set_tests_properties(fixtures.bert PROPERTIES FIXTURES_SETUP bert_fixtures TIMEOUT 300)

foreach(check bert bert_bad_input)
  add_test(NAME oracle.${check}
           COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_${check}.py
                   --lmforge $<TARGET_FILE:lmforge>
                   --fixtures ${LMFORGE_BERT_FIXTURE_DIR}
                   --workdir ${LMFORGE_ORACLE_WORK}/${check})
  set_tests_properties(oracle.${check} PROPERTIES FIXTURES_REQUIRED bert_fixtures TIMEOUT 600 LABELS "oracle")
endforeach()

# convert of the BERT folders to GGUF "bert", embedded by llama.cpp (node-llama-cpp).
add_test(NAME oracle.bert_llama_cpp
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_bert_llama_cpp.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_BERT_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/bert_llama_cpp)
set_tests_properties(oracle.bert_llama_cpp PROPERTIES FIXTURES_REQUIRED bert_fixtures TIMEOUT 600 LABELS "oracle;node")

add_test(NAME oracle.llama_embed
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_llama_embed.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --model ${PROJECT_SOURCE_DIR}/models/demo
                 --workdir ${LMFORGE_ORACLE_WORK}/llama_embed)
set_tests_properties(oracle.llama_embed PROPERTIES TIMEOUT 600 LABELS "oracle;node")

# The committed embedding model (models/embed, tools/train_embedder.py) against the float64
# reference of its own weights, and its tokenizer against the one it was trained with.
add_test(NAME oracle.embed_model
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_embed_model.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --model ${PROJECT_SOURCE_DIR}/models/embed
                 --workdir ${LMFORGE_ORACLE_WORK}/embed_model)
set_tests_properties(oracle.embed_model PROPERTIES TIMEOUT 600 LABELS "oracle")
