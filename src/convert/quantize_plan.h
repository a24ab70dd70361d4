// What `lmforge quantize` will do to each tensor of a llama model, worked out and checked
// before anything is written: the type from llama.cpp's mix rules (llama_quant_mix), the
// sizes before and after, and the refusals (a type without an encoder yet, requantizing a
// quantized input without --allow-requantize).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "convert/llama_quant_mix.h"
#include "convert/llama_source.h"

namespace lmforge {

struct QuantizeTensorPlan {
  std::string name;             // GGUF name
  std::vector<uint64_t> shape;  // row-major
  DType from, to;
  QuantMixReason reason;
  uint64_t bytes_in = 0, bytes_out = 0;
};

struct QuantizePlan {
  QuantMix mix;
  QuantMixFlags flags;
  QuantMixModel model;
  std::vector<QuantizeTensorPlan> tensors;  // in the source's order
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t elements = 0;                    // of the tensors written, for bits per weight
  bool requantizes = false;                 // some quantized input gets another type
};

// Plans every tensor of `model` that maps to a llama GGUF tensor (others are left to the
// writer, which refuses them).
QuantizePlan plan_llama_quantize(const LlamaModelSource& model, QuantMix mix, const QuantMixFlags& flags);

// Throws UsageError when a planned type has no encoder yet ("blk.0.attn_v.weight would be
// Q6_K, which is not implemented yet") or the plan requantizes and `allow_requantize` is off.
void check_quantize_plan(const QuantizePlan& plan, bool allow_requantize);

// The planned type of a tensor, as the GGUF sink's GgufTensorTypes::type_of asks for it.
std::function<DType(const LlamaTensorName&, const TensorInfo&)> quantize_type_of(const QuantizePlan& plan);

}  // namespace lmforge
