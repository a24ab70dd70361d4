#include "quant/type_traits.h"

#include <array>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/half.h"
#include "quant/ggml_blocks.h"
#include "quant/k_quants.h"
#include "quant/q5.h"

namespace lmforge {

namespace {

// Codecs of the plain float types; the block types' codecs are in ggml_blocks.

void decode_f32(const uint8_t* in, float* out, size_t n) {
  std::memcpy(out, in, n * sizeof(float));
}
void encode_f32(const float* in, uint8_t* out, size_t n) {
  std::memcpy(out, in, n * sizeof(float));
}

void decode_f16(const uint8_t* in, float* out, size_t n) {
  const float* table = fp16_to_fp32_table();
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    out[i] = table[h];
  }
}
void encode_f16(const float* in, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(in[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void decode_bf16(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    out[i] = bf16_to_fp32(h);
  }
}
void encode_bf16(const float* in, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(in[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void decode_f64(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    double v;
    std::memcpy(&v, in + 8 * i, 8);
    out[i] = static_cast<float>(v);
  }
}

constexpr int32_t kNoFtype = -1;

// One row per type with a codec. The llama ftype column is llama.cpp's LLAMA_FTYPE_* number
// (ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7,
// MOSTLY_Q5_0 = 8, MOSTLY_Q5_1 = 9, MOSTLY_Q2_K = 10, MOSTLY_Q3_K_M = 12, MOSTLY_Q4_K_M = 15, MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18,
// MOSTLY_BF16 = 32). For the K-quants that
// llama.cpp splits into _S/_M/_L mixes, the number is the one llama-quantize writes for the bare
// type name ("Q4_K" is its alias for Q4_K_M), which is what `llama-quantize --pure` produces.
// clang-format off
constexpr std::array<TypeTraits, 14> kRows = {{
    // type      block  block bytes      decode               encode             f16 scale  llama ftype
    {DType::F32,  1,    4,               decode_f32,          encode_f32,        false,     0},
    {DType::F16,  1,    2,               decode_f16,          encode_f16,        false,     1},
    {DType::BF16, 1,    2,               decode_bf16,         encode_bf16,       false,     32},
    {DType::F64,  1,    8,               decode_f64,          nullptr,           false,     kNoFtype},
    {DType::Q8_0, kQK,  kQ8_0BlockBytes, dequantize_row_q8_0, quantize_row_q8_0, true,      7},
    {DType::Q4_0, kQK,  kQ4_0BlockBytes, dequantize_row_q4_0, quantize_row_q4_0, true,      2},
    {DType::Q4_1, kQK,  kQ4_1BlockBytes, dequantize_row_q4_1, quantize_row_q4_1, true,      3},
    {DType::Q5_0, kQK,  kQ5_0BlockBytes, dequantize_row_q5_0, quantize_row_q5_0, true,      8},
    {DType::Q5_1, kQK,  kQ5_1BlockBytes, dequantize_row_q5_1, quantize_row_q5_1, true,      9},
    // Q4_K/Q5_K open with d (then dmin); Q2_K, Q3_K and Q6_K keep d at the end.
    {DType::Q2_K, kQK_K, kQ2_KBlockBytes, dequantize_row_q2_k, quantize_row_q2_k, false,    10},
    {DType::Q3_K, kQK_K, kQ3_KBlockBytes, dequantize_row_q3_k, quantize_row_q3_k, false,    12},
    {DType::Q4_K, kQK_K, kQ4_KBlockBytes, dequantize_row_q4_k, quantize_row_q4_k, true,     15},
    {DType::Q5_K, kQK_K, kQ5_KBlockBytes, dequantize_row_q5_k, quantize_row_q5_k, true,     17},
    {DType::Q6_K, kQK_K, kQ6_KBlockBytes, dequantize_row_q6_k, quantize_row_q6_k, false,    18},
}};
// clang-format on

// DType -> index into kRows (or -1), so that a lookup is one load, not a scan.
constexpr auto kIndex = [] {
  std::array<int8_t, static_cast<size_t>(DType::kCount)> index{};
  index.fill(-1);
  for (size_t i = 0; i < kRows.size(); ++i)
    index[static_cast<size_t>(kRows[i].type)] = static_cast<int8_t>(i);
  return index;
}();

}  // namespace

std::span<const TypeTraits> all_type_traits() {
  return kRows;
}

const TypeTraits* type_traits(DType t) {
  const auto i = static_cast<size_t>(t);
  if (i >= kIndex.size() || kIndex[i] < 0) return nullptr;
  return &kRows[static_cast<size_t>(kIndex[i])];
}

bool can_decode(DType t) {
  return type_traits(t) != nullptr;
}

bool can_encode(DType t) {
  const TypeTraits* row = type_traits(t);
  return row != nullptr && row->encode != nullptr;
}

void decode_row(DType t, const uint8_t* in, float* out, size_t n) {
  const TypeTraits* row = type_traits(t);
  if (row == nullptr) fail("", "internal error: cannot decode " + std::string(dtype_name(t)));
  row->decode(in, out, n);
}

void encode_row(DType t, const float* in, uint8_t* out, size_t n) {
  const TypeTraits* row = type_traits(t);
  if (row == nullptr || row->encode == nullptr)
    fail("", "internal error: cannot encode " + std::string(dtype_name(t)));
  row->encode(in, out, n);
}

bool has_leading_f16_scale(DType t) {
  const TypeTraits* row = type_traits(t);
  return row != nullptr && row->leading_f16_scale;
}

std::optional<uint32_t> llama_ftype(DType t) {
  const TypeTraits* row = type_traits(t);
  if (row == nullptr || row->llama_ftype < 0) return std::nullopt;
  return static_cast<uint32_t>(row->llama_ftype);
}

}  // namespace lmforge
