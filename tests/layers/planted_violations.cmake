# Shows that cmake/check_layers.cmake refuses each kind of violation, naming the file and the
# include: a copy of the real src/ passes, then fails once an upward include is planted in it;
# small made-up trees plant a peer include, a folder cycle, a folder outside the layer order
# and an upward include in a test. Run by CTest as `layers.planted_violations_fail`:
#   cmake -DLMFORGE_ROOT=<repo> -DLMFORGE_WORK=<scratch dir> -P planted_violations.cmake
cmake_minimum_required(VERSION 3.25)
set(checker ${LMFORGE_ROOT}/cmake/check_layers.cmake)
file(REMOVE_RECURSE ${LMFORGE_WORK})

# Runs the checker on `tree`; `expect` is PASS or the text the failure must contain.
function(expect_check name tree expect)
  execute_process(COMMAND ${CMAKE_COMMAND} -DLMFORGE_ROOT=${tree} -DLMFORGE_CHECK_TESTS=ON
                          -DLMFORGE_LAYERS_FILE=${LMFORGE_ROOT}/cmake/layers.cmake -P ${checker}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(all "${out}${err}")
  if(expect STREQUAL "PASS")
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${name}: the check should pass but failed:\n${all}")
    endif()
  else()
    if(rc EQUAL 0)
      message(FATAL_ERROR "${name}: the check should fail but passed:\n${all}")
    endif()
    string(FIND "${all}" "${expect}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${name}: the failure does not say \"${expect}\":\n${all}")
    endif()
  endif()
  message("${name}: ok")
endfunction()

function(write_tree tree)  # pairs of (file, included header) follow
  set(pairs ${ARGN})
  while(pairs)
    list(POP_FRONT pairs file include)
    file(WRITE ${tree}/${file} "#include \"${include}\"\n")
  endwhile()
endfunction()

# The real tree, then the same tree with one upward include planted in a core file.
set(real ${LMFORGE_WORK}/real)
file(COPY ${LMFORGE_ROOT}/src DESTINATION ${real})
expect_check(real_tree ${real} PASS)
file(APPEND ${real}/src/core/error.cpp "#include \"cli/commands.h\"\n")
expect_check(planted_upward ${real}
             "src/core/error.cpp: #include \"cli/commands.h\": core may not include cli, a higher layer")

set(peer ${LMFORGE_WORK}/peer)
write_tree(${peer} src/tokenizer/vocab.cpp sampling/sampler.h src/sampling/sampler.h core/error.h)
expect_check(planted_peer ${peer}
             "src/tokenizer/vocab.cpp: #include \"sampling/sampler.h\": tokenizer and sampling are peers")

set(cycle ${LMFORGE_WORK}/cycle)
write_tree(${cycle} src/formats/onnx/a.cpp formats/gguf/b.h src/formats/gguf/b.cpp formats/onnx/a.h)
expect_check(planted_cycle ${cycle} "folders form a cycle: formats/")

set(unknown ${LMFORGE_WORK}/unknown)
write_tree(${unknown} src/rag/index.cpp core/error.h)
expect_check(planted_unknown_folder ${unknown} "src/rag/: folder is not in the layer order")

set(test_tree ${LMFORGE_WORK}/tests)
write_tree(${test_tree} src/kernels/matmul.cpp core/error.h tests/kernels/matmul_test.cpp engine/llama_model.h)
expect_check(planted_in_test ${test_tree}
             "tests/kernels/matmul_test.cpp: #include \"engine/llama_model.h\": kernels may not include engine")
