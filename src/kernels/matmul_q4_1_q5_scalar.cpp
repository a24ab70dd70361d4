// Plain C++ twins of the Q4_1 / Q5_0 / Q5_1 products (matmul_q4_1_q5.cpp): the same block
// formulas, element by element, which the tests hold the SIMD kernels against.
#include <cstring>

#include "core/half.h"
#include "kernels/matmul_q4_1_q5.h"
#include "quant/ggml_blocks.h"
#include "quant/q5.h"

namespace lmforge {

namespace {

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// sum over the block of n_j * q_j, n_j = the nibble of qs (element j < 16: low nibble of
// byte j; j >= 16: high nibble of byte j - 16) plus, for 5-bit types, bit j of qh times 16.
int32_t code_dot(const uint8_t* qs, uint32_t qh, const int8_t* q) {
  int32_t isum = 0;
  for (size_t j = 0; j < kQK / 2; ++j) {
    const int32_t lo = (qs[j] & 0x0F) | static_cast<int32_t>(((qh >> j) & 1u) << 4);
    const int32_t hi = (qs[j] >> 4) | static_cast<int32_t>(((qh >> (j + kQK / 2)) & 1u) << 4);
    isum += lo * q[j] + hi * q[j + kQK / 2];
  }
  return isum;
}

uint32_t load_qh(const uint8_t* p) {
  // Little-endian in the file, whatever the host.
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

bool is_q4_1_q5_type(DType t) { return t == DType::Q4_1 || t == DType::Q5_0 || t == DType::Q5_1; }

// Block: f16 d, f16 m, uint8 qs[16].
// s[b] is the activation block's d * sum q (PackedActivations::scaled_sums), as llama.cpp's Q8_1.
float dot_row_q4_1(const uint8_t* w, const int8_t* q, const float* d, const float* s, uint64_t nb) {
  float acc = 0.0f;
  for (uint64_t b = 0; b < nb; ++b, w += kQ4_1BlockBytes, q += kQK) {
    const int32_t isum = code_dot(w + 4, 0, q);
    acc += (load_f16(w) * d[b]) * static_cast<float>(isum) + load_f16(w + 2) * s[b];
  }
  return acc;
}

// Block: f16 d, uint32 qh, uint8 qs[16].
float dot_row_q5_0(const uint8_t* w, const int8_t* q, const float* d, const float* s, uint64_t nb) {
  float acc = 0.0f;
  for (uint64_t b = 0; b < nb; ++b, w += kQ5_0BlockBytes, q += kQK) {
    const int32_t isum = code_dot(w + 6, load_qh(w + 2), q);
    // sum (n - 16) q = sum n q - 16 s, exact in float (|values| < 2^24).
    acc += (load_f16(w) * d[b]) * (static_cast<float>(isum) - 16.0f * s[b]);
  }
  return acc;
}

// Block: f16 d, f16 m, uint32 qh, uint8 qs[16]; s as for Q4_1.
float dot_row_q5_1(const uint8_t* w, const int8_t* q, const float* d, const float* s, uint64_t nb) {
  float acc = 0.0f;
  for (uint64_t b = 0; b < nb; ++b, w += kQ5_1BlockBytes, q += kQK) {
    const int32_t isum = code_dot(w + 8, load_qh(w + 4), q);
    acc += (load_f16(w) * d[b]) * static_cast<float>(isum) + load_f16(w + 2) * s[b];
  }
  return acc;
}

}  // namespace lmforge
