#include "convert/llama_quant_mix.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace lmforge {

namespace {

using M = QuantMix;

// llama-quantize's table (tools/quantize/quantize.cpp) and llama_ftype_get_default_type.
constexpr std::array<QuantMixInfo, 17> kMixes{{
    {M::F32, "F32", DType::F32, 0},
    {M::F16, "F16", DType::F16, 1},
    {M::BF16, "BF16", DType::BF16, 32},
    {M::Q8_0, "Q8_0", DType::Q8_0, 7},
    {M::Q4_0, "Q4_0", DType::Q4_0, 2},
    {M::Q4_1, "Q4_1", DType::Q4_1, 3},
    {M::Q5_0, "Q5_0", DType::Q5_0, 8},
    {M::Q5_1, "Q5_1", DType::Q5_1, 9},
    {M::Q2_K, "Q2_K", DType::Q2_K, 10},
    {M::Q3_K_S, "Q3_K_S", DType::Q3_K, 11},
    {M::Q3_K_M, "Q3_K_M", DType::Q3_K, 12},
    {M::Q3_K_L, "Q3_K_L", DType::Q3_K, 13},
    {M::Q4_K_S, "Q4_K_S", DType::Q4_K, 14},
    {M::Q4_K_M, "Q4_K_M", DType::Q4_K, 15},
    {M::Q5_K_S, "Q5_K_S", DType::Q5_K, 16},
    {M::Q5_K_M, "Q5_K_M", DType::Q5_K, 17},
    {M::Q6_K, "Q6_K", DType::Q6_K, 18},
}};

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer
// in between, get the bigger type in the *_M mixes.
bool use_more_bits(int64_t i_layer, int64_t n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// tensor_type_fallback: a type whose blocks do not divide the row length becomes a 32-block
// type of about as many bits; when 32 does not divide it either, F16.
QuantMixChoice fit_row_length(QuantMixChoice c, uint64_t row_len) {
  const uint32_t block = dtype_info(c.type).block_size;
  if (row_len % block == 0) return c;
  DType to = c.type;
  switch (c.type) {
    case DType::Q2_K:
    case DType::Q3_K: to = DType::Q4_0; break;
    case DType::Q4_K: to = DType::Q5_0; break;
    case DType::Q5_K: to = DType::Q5_1; break;
    case DType::Q6_K: to = DType::Q8_0; break;
    default: break;  // already a 32-block type: only F16 is left
  }
  if (row_len % dtype_info(to).block_size != 0) return {DType::F16, QuantMixReason::kFallbackF16};
  return {to, QuantMixReason::kFallback};
}

// The mixture rules of llama_tensor_get_type_impl that a llama model can meet.
QuantMixChoice mixture_rule(QuantMix mix, const QuantMixModel& m, const LlamaTensorName& name, uint64_t row_len, bool has_imatrix) {
  const DType base = quant_mix_info(mix).default_type;
  const QuantMixChoice keep{base, QuantMixReason::kMixDefault};
  const auto more = [](DType t) { return QuantMixChoice{t, QuantMixReason::kMoreBits}; };
  const int64_t i = name.layer, n = m.n_layer;
  const bool head = name.id == LlamaTensor::kOutput || (m.tied_embeddings && name.id == LlamaTensor::kTokenEmbd);
  if (head) {
    // 8 bits when the mix is 8 bits or its blocks do not fit the rows, else Q6_K.
    if (row_len % dtype_info(base).block_size != 0 || base == DType::Q8_0) return {DType::Q8_0, QuantMixReason::kOutputHead};
    return {DType::Q6_K, QuantMixReason::kOutputHead};
  }
  switch (name.id) {
    case LlamaTensor::kAttnV: {
      // n_gqa() is n_head / n_head_kv (0 without kv heads).
      const uint32_t n_gqa = m.n_head_kv == 0 ? 0 : m.n_head / m.n_head_kv;
      QuantMixChoice c = keep;
      if (mix == M::Q2_K) c = more(n_gqa >= 4 ? DType::Q4_K : DType::Q3_K);
      else if (mix == M::Q3_K_M) c = more(i < 2 ? DType::Q5_K : DType::Q4_K);
      else if (mix == M::Q3_K_L) c = more(DType::Q5_K);
      else if ((mix == M::Q4_K_M || mix == M::Q5_K_M) && use_more_bits(i, n)) c = more(DType::Q6_K);
      else if (mix == M::Q4_K_S && i < 4) c = more(DType::Q5_K);
      // llama.cpp's LLM_TYPE_70B (80 layers with grouped kv heads): attn_v is 8x smaller than
      // attn_q there, so 3 and 4 bits become 5 at little cost.
      const bool is_70b = m.n_layer == 80 && m.n_head != m.n_head_kv;
      if (is_70b && (c.type == DType::Q3_K || c.type == DType::Q4_K)) c = more(DType::Q5_K);
      return c;
    }
    case LlamaTensor::kFfnDown:
      if (mix == M::Q2_K) return more(DType::Q3_K);
      if (mix == M::Q3_K_M) return more(i < n / 16 ? DType::Q5_K : DType::Q4_K);
      if (mix == M::Q3_K_L) return more(DType::Q5_K);
      if ((mix == M::Q4_K_M || mix == M::Q5_K_M) && use_more_bits(i, n)) return more(DType::Q6_K);
      if (mix == M::Q4_K_S && i < n / 8) return more(DType::Q5_K);
      if ((mix == M::Q4_0 || mix == M::Q5_0) && has_imatrix && i < n / 8) return more(mix == M::Q4_0 ? DType::Q4_1 : DType::Q5_1);
      return keep;
    case LlamaTensor::kAttnOutput:
      if (mix == M::Q2_K) return more(DType::Q3_K);
      if (mix == M::Q3_K_M) return more(DType::Q4_K);
      if (mix == M::Q3_K_L) return more(DType::Q5_K);
      return keep;
    default:
      return keep;
  }
}

}  // namespace

std::span<const QuantMixInfo> all_quant_mixes() { return kMixes; }

const QuantMixInfo& quant_mix_info(QuantMix mix) { return kMixes[static_cast<size_t>(mix)]; }

std::optional<QuantMix> quant_mix_from_name(std::string_view name) {
  for (const auto& row : kMixes) {
    if (row.name.size() != name.size()) continue;
    if (std::equal(name.begin(), name.end(), row.name.begin(),
                   [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; }))
      return row.mix;
  }
  return std::nullopt;
}

std::string quant_mix_names() {
  std::string list;
  for (const auto& row : kMixes) list += (list.empty() ? "" : ", ") + std::string(row.name);
  return list;
}

QuantMixModel quant_mix_model(const LlamaConfig& c, bool has_output_tensor) {
  return {c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, !has_output_tensor};
}

QuantMixChoice llama_quant_tensor_type(QuantMix mix, const QuantMixFlags& flags, const QuantMixModel& model,
                                       const LlamaTensorName& name, std::span<const uint64_t> shape, DType input) {
  // tensor_allows_quantization: matrices named "*weight", norms excepted. llama.cpp keeps the
  // others in their input type, which its GGUFs hold as F32; our sources may hold F16 norms,
  // and llama.cpp's converter makes those F32 too.
  const bool norm = name.id == LlamaTensor::kAttnNorm || name.id == LlamaTensor::kFfnNorm || name.id == LlamaTensor::kOutputNorm;
  if (shape.size() < 2 || name.bias || norm) return {DType::F32, QuantMixReason::kNotQuantized};
  if (flags.leave_output_tensor && name.id == LlamaTensor::kOutput) return {input, QuantMixReason::kKeptAsIs};

  const DType base = quant_mix_info(mix).default_type;
  if (!dtype_is_quantized(base)) return {base, QuantMixReason::kMixDefault};  // F32/F16/BF16: no rules, no fallback
  const uint64_t row_len = shape.back();  // ggml's ne[0]
  const QuantMixChoice chosen = flags.pure ? QuantMixChoice{base, QuantMixReason::kMixDefault} : mixture_rule(mix, model, name, row_len, flags.has_imatrix);
  return fit_row_length(chosen, row_len);
}

}  // namespace lmforge
