// Turns the object graph a checkpoint pickle built into named tensors and plain values.
//
// Names are paths through dicts, lists and tuples joined with ".". The walk is iterative and
// expands each container once, so memo tricks (a container reachable along exponentially many
// paths, or through a cycle) cost linear time, and deep nesting cannot exhaust the C++ stack.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/pickle/pickle_value.h"

namespace lmforge::pickle {

struct NamedTensor {
  std::string name;
  const Object* tensor;  // Kind::Tensor
};

struct CheckpointTree {
  std::vector<NamedTensor> tensors;  // in the order the pickle holds them
  nlohmann::json values = nlohmann::json::object();  // path -> scalar / string / summary
  std::vector<std::string> warnings;
};

struct TreeLimits {
  size_t max_depth = 64;        // containers deep, around anything
  size_t max_values = 10000;    // entries kept in `values`
  size_t max_string = 256;      // characters kept per string value
  size_t max_path = 1024;       // bytes in a joined name; longer ones are refused
};

// Throws lmforge::Error (naming `file`) on duplicate tensor names, names with control
// characters, or nesting past the depth limit.
CheckpointTree walk_checkpoint(const Object* root, const std::string& file, const TreeLimits& limits = {});

}  // namespace lmforge::pickle
