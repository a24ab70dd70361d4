# Checks that every #include between the folders of src/ (and of tests/, which mirrors src/)
# points one way, down the layer order of cmake/layers.cmake, and that no folders include each
# other in a loop. Run in script mode, so that it needs nothing but CMake:
#
#   cmake -DLMFORGE_ROOT=<tree holding src/> [-DLMFORGE_CHECK_TESTS=ON] [-DLMFORGE_DOC=<file>]
#         -P cmake/check_layers.cmake
#
# LMFORGE_DOC names a document (docs/architecture.md) that must show the order as one line.
#
# Prints one line per offending include ("FILE: #include "X": why") and fails; prints one
# summary line and succeeds otherwise. Only includes whose first path component is a folder of
# src/ are project includes; <system> headers and third-party "hwy/..." ones are not checked.
# The build runs this before compiling (target lmforge_layer_check) and CTest runs it as
# `layers.include_check`; tests/layers/ plants violations to show that each kind is caught.
cmake_minimum_required(VERSION 3.25)

if(NOT LMFORGE_ROOT)
  message(FATAL_ERROR "usage: cmake -DLMFORGE_ROOT=DIR [-DLMFORGE_CHECK_TESTS=ON] -P check_layers.cmake")
endif()
if(NOT LMFORGE_LAYERS_FILE)
  set(LMFORGE_LAYERS_FILE ${CMAKE_CURRENT_LIST_DIR}/layers.cmake)
endif()
include(${LMFORGE_LAYERS_FILE})

# rank_<folder>: position of the folder's layer; peers share a rank.
set(rank 0)
set(layer_line "")
set(known_folders "")
foreach(layer IN LISTS LMFORGE_LAYERS)
  string(REPLACE " " ";" peers "${layer}")
  foreach(folder IN LISTS peers)
    set(rank_${folder} ${rank})
    list(APPEND known_folders ${folder})
  endforeach()
  list(LENGTH peers n_peers)
  if(n_peers GREATER 1)
    string(REPLACE " " ", " shown "${layer}")
    set(shown "{${shown}}")
  else()
    set(shown "${layer}")
  endif()
  if(layer_line STREQUAL "")
    set(layer_line "${shown}")
  else()
    string(APPEND layer_line " < ${shown}")
  endif()
  math(EXPR rank "${rank} + 1")
endforeach()

set(problems "")
set(edges "")  # "fromdir>todir" folder pairs, for the cycle search
set(n_files 0)
set(n_includes 0)

# Every top-level folder of src/ must have a place in the order.
file(GLOB top_entries LIST_DIRECTORIES true RELATIVE ${LMFORGE_ROOT}/src ${LMFORGE_ROOT}/src/*)
foreach(entry IN LISTS top_entries)
  if(IS_DIRECTORY ${LMFORGE_ROOT}/src/${entry} AND NOT entry IN_LIST known_folders)
    list(APPEND problems "src/${entry}/: folder is not in the layer order (add it to cmake/layers.cmake)")
  endif()
endforeach()

# Checks one tree (src or tests). Test folders take the rank of the src folder they mirror;
# tests/oracles and tests/fuzz drive the program from outside and are not layered.
function(check_tree tree)
  file(GLOB_RECURSE files RELATIVE ${LMFORGE_ROOT}/${tree}
       ${LMFORGE_ROOT}/${tree}/*.h ${LMFORGE_ROOT}/${tree}/*.hpp
       ${LMFORGE_ROOT}/${tree}/*.cpp ${LMFORGE_ROOT}/${tree}/*.cc)
  foreach(file IN LISTS files)
    string(REGEX MATCH "^[^/]+" from_top "${file}")
    if(NOT DEFINED rank_${from_top})
      continue()  # tests/oracles, tests/fuzz, files directly under the tree
    endif()
    get_filename_component(from_dir "${file}" DIRECTORY)
    math(EXPR n_files "${n_files} + 1")
    file(STRINGS ${LMFORGE_ROOT}/${tree}/${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*$" "\\1" target "${line}")
      string(REGEX MATCH "^[^/]+" to_top "${target}")
      if(NOT target MATCHES "/" OR NOT DEFINED rank_${to_top})
        continue()  # not a project include (system, hwy/...)
      endif()
      math(EXPR n_includes "${n_includes} + 1")
      get_filename_component(to_dir "${target}" DIRECTORY)
      set(where "${tree}/${file}: #include \"${target}\"")
      if(rank_${to_top} GREATER rank_${from_top})
        list(APPEND problems "${where}: ${from_top} may not include ${to_top}, a higher layer")
      elseif(rank_${to_top} EQUAL rank_${from_top} AND NOT to_top STREQUAL from_top)
        list(APPEND problems "${where}: ${from_top} and ${to_top} are peers, which never include each other")
      elseif(NOT to_dir STREQUAL from_dir AND tree STREQUAL "src")
        list(APPEND edges "${from_dir}>${to_dir}")
        set(example_${from_dir}__${to_dir} "${where}" PARENT_SCOPE)
      endif()
    endforeach()
  endforeach()
  set(problems "${problems}" PARENT_SCOPE)
  set(edges "${edges}" PARENT_SCOPE)
  set(n_includes ${n_includes} PARENT_SCOPE)
  set(n_files ${n_files} PARENT_SCOPE)
endfunction()

check_tree(src)
if(LMFORGE_CHECK_TESTS AND IS_DIRECTORY ${LMFORGE_ROOT}/tests)
  check_tree(tests)
endif()

# Folder cycles (within a layer, e.g. formats/onnx -> formats/gguf -> formats/onnx): a
# depth-first search over the folder graph; a folder met again while still on the path closes
# a cycle, reported with one include per step.
list(REMOVE_DUPLICATES edges)
set(nodes "")
foreach(edge IN LISTS edges)
  string(REPLACE ">" ";" pair "${edge}")
  list(GET pair 0 a)
  list(GET pair 1 b)
  list(APPEND succ_${a} ${b})
  list(APPEND nodes ${a} ${b})
endforeach()
list(REMOVE_DUPLICATES nodes)

function(visit node path)
  get_property(state GLOBAL PROPERTY visit_state_${node})
  if(state STREQUAL "done")
    return()
  endif()
  if(state STREQUAL "open")
    list(FIND path ${node} at)
    list(SUBLIST path ${at} -1 loop)
    list(APPEND loop ${node})
    list(JOIN loop " -> " shown)
    set(steps "")
    list(LENGTH loop n)
    math(EXPR last "${n} - 2")
    foreach(i RANGE 0 ${last})
      math(EXPR j "${i} + 1")
      list(GET loop ${i} a)
      list(GET loop ${j} b)
      list(APPEND steps "${example_${a}__${b}}")
    endforeach()
    list(JOIN steps ", then " steps)
    set_property(GLOBAL APPEND PROPERTY layer_cycles "folders form a cycle: ${shown} (${steps})")
    return()
  endif()
  set_property(GLOBAL PROPERTY visit_state_${node} open)
  list(APPEND path ${node})
  foreach(next IN LISTS succ_${node})
    visit(${next} "${path}")
  endforeach()
  set_property(GLOBAL PROPERTY visit_state_${node} done)
endfunction()

foreach(node IN LISTS nodes)
  visit(${node} "")
endforeach()
get_property(cycles GLOBAL PROPERTY layer_cycles)
list(APPEND problems ${cycles})

# The architecture document shows the order as one line; keep it the one written above.
if(LMFORGE_DOC)
  file(READ ${LMFORGE_DOC} doc)
  string(FIND "${doc}" "${layer_line}" at)
  if(at EQUAL -1)
    list(APPEND problems "${LMFORGE_DOC}: does not show the layer order as the line \"${layer_line}\"")
  endif()
endif()

list(LENGTH problems n_problems)
if(n_problems GREATER 0)
  foreach(p IN LISTS problems)
    message("layers: ${p}")
  endforeach()
  message("layers: order is ${layer_line} (cmake/layers.cmake)")
  message(FATAL_ERROR "layers: ${n_problems} include(s) break the layer order")
endif()
message("layers: ${n_includes} project includes in ${n_files} files point down ${layer_line}")
