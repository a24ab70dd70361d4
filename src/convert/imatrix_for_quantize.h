// Which importance weights each tensor of a quantize plan gets from an imatrix file, by
// llama-quantize's rules (src/llama-quant.cpp): a tensor that is converted (its type changes)
// looks its GGUF name up; no entry: the reference quantizer ("did not find weights"); an
// entry whose size is not the row length: an error, except for token_embd (llama.cpp lets
// that one through without weights). Also the quantize.imatrix.* keys llama-quantize adds to
// the output.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "convert/quantize_plan.h"
#include "formats/gguf/gguf_value.h"
#include "formats/imatrix/imatrix_file.h"

namespace lmforge {

struct QuantizeImportance {
  std::map<std::string, std::vector<float>> by_tensor;  // GGUF name -> one weight per column
  std::vector<std::string> without_weights;            // converted tensors with no entry
  std::vector<GgufKv> kvs;                             // quantize.imatrix.file, ... as llama-quantize
};

// Throws lmforge::Error (naming `file`) on an entry whose size does not fit its tensor.
QuantizeImportance importance_for_plan(const QuantizePlan& plan, const ImatrixData& data, const std::string& file);

}  // namespace lmforge
