#include "convert/gguf_type_policy.h"

#include <algorithm>
#include <map>

#include "quant/type_traits.h"

namespace lmforge {

// Those llama.cpp has a file type for (the most common one becomes general.file_type).
bool gguf_keeps_quantized(DType t) { return dtype_is_quantized(t) && llama_ftype(t).has_value(); }

DType gguf_file_type(std::span<const TensorInfo> sources, std::optional<DType> requested) {
  if (requested) return *requested;
  std::map<DType, uint64_t> quantized_elements;
  for (const auto& t : sources)
    if (gguf_keeps_quantized(t.dtype)) quantized_elements[t.dtype] += t.numel();
  if (quantized_elements.empty()) return DType::F16;
  return std::max_element(quantized_elements.begin(), quantized_elements.end(),
                          [](const auto& a, const auto& b) { return a.second < b.second; })->first;
}

GgufTypeChoice gguf_tensor_type(const GgufTypePolicy& p, const LlamaTensorName& name, const TensorInfo& t) {
  const DType out = p.file_type;
  const bool is_weight_matrix = t.shape.size() == 2 && !name.bias;
  if (!is_weight_matrix) return {DType::F32, GgufTypeReason::kVectorF32};
  if (dtype_is_quantized(out) && t.shape.back() % dtype_info(out).block_size != 0) return {DType::F16, GgufTypeReason::kPartialBlocksF16};
  if (!p.requested && gguf_keeps_quantized(t.dtype)) return {t.dtype, GgufTypeReason::kKeptQuantized};
  if (!p.requested && dtype_is_quantized(out)) return {DType::F16, GgufTypeReason::kFloatBesideQuantized};
  const bool head = name.id == LlamaTensor::kOutput || (name.id == LlamaTensor::kTokenEmbd && p.tied_embeddings);
  if (out == DType::Q4_0 && p.requested && head) return {DType::Q8_0, GgufTypeReason::kOutputHeadQ8_0};
  return {out, GgufTypeReason::kFileType};
}

}  // namespace lmforge
