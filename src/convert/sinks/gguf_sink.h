// Any llama model -> a llama GGUF that llama.cpp loads: names from the llama tensor table,
// Q/K rows permuted from Hugging Face's rotate_half layout to adjacent pairs, the `llama.*`
// and tokenizer keys, tensors in canonical order, each tensor's type by gguf_type_policy.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "arch/llama/llama_tensors.h"
#include "convert/convert_options.h"
#include "convert/llama_source.h"
#include "formats/gguf/gguf_value.h"

namespace lmforge {

// Writes `model` at `dst` (or into opt.output_fd). With opt.outtype unset, float weights
// become F16 and already-quantized weights (legacy GGML Q4_0/Q4_1/Q8_0) keep their type.
// Every tensor is planned and checked before anything is written.
ConvertReport write_llama_gguf(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt);

// Per-tensor types a caller chooses instead of the --outtype policy (`lmforge quantize` and its
// mixes); opt.outtype must then be unset. The caller has checked that every type it returns
// can be written (can_encode, or the source's own type).
struct GgufTensorTypes {
  // The output type of a weight, given its llama name and its source tensor.
  std::function<DType(const LlamaTensorName&, const TensorInfo&)> type_of;
  uint32_t file_type = 0;         // general.file_type (LLAMA_FTYPE_*)
  bool reject_nonfinite = false;  // a NaN or infinite value fails the write, naming the tensor
  // The line logged for each tensor instead of the converter's own (when set).
  std::function<std::string(size_t index, size_t count, const std::string& gguf_name)> line;
  // Called with each tensor's output bytes once they are made; a non-empty result is logged
  // after the tensor's line (quantize --hist prints the code histogram this way).
  std::function<std::string(const std::string& gguf_name, DType type, const TensorBytes& data)> after_tensor;
  // The importance weights (one per column) to quantize a tensor with, by GGUF name; null or
  // returning null: the reference quantizers (llama-quantize without --imatrix).
  std::function<const std::vector<float>*(const std::string& gguf_name)> importance;
  // Keys written after the model's own (llama-quantize's quantize.imatrix.* keys).
  std::vector<GgufKv> extra_kvs;
};
ConvertReport write_llama_gguf(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt,
                               const GgufTensorTypes& types);

}  // namespace lmforge
