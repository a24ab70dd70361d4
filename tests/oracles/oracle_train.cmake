# LoRA training (issue 13): the trainer's gradients against float64 PyTorch autograd and a few
# of its AdamW steps against torch.optim.AdamW (check_train_step.py), through train_step_tool,
# a driver of src/train/ built beside the tests.
add_executable(train_step_tool ${CMAKE_CURRENT_LIST_DIR}/train_step_tool.cpp)
target_include_directories(train_step_tool PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(train_step_tool PRIVATE lmforge_train)

add_test(NAME oracle.train_step
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_train_step.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/train_step
                 --tool $<TARGET_FILE:train_step_tool>
                 --demo ${PROJECT_SOURCE_DIR}/models/demo)
set_tests_properties(oracle.train_step PROPERTIES FIXTURES_REQUIRED fixtures TIMEOUT 600 LABELS "oracle")

# `lmforge finetune`: learning on an unseen fragment (perplexity by PyTorch from the adapter as
# @huggingface/gguf reads it), --json, Ctrl-C + --resume bit-identity across thread counts,
# bad input.
add_test(NAME oracle.finetune
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_finetune.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --workdir ${LMFORGE_ORACLE_WORK}/finetune
                 --demo ${PROJECT_SOURCE_DIR}/models/demo)
set_tests_properties(oracle.finetune PROPERTIES FIXTURES_REQUIRED fixtures TIMEOUT 900 LABELS "oracle;node")
