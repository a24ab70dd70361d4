// Plain C++ twins of the fast matmul kernels (matmul.cpp): the same packed layout and the same
// numerics per block, summed in one float accumulator in element order. The tests hold the
// Highway kernels against these, and these against the double-precision matmul_ref.
#include <cstring>

#include "core/half.h"
#include "kernels/matmul.h"
#include "kernels/matmul_q4_1_q5.h"
#include "kernels/matmul_kquants.h"
#include "kernels/weight_types.h"
#include "quant/ggml_blocks.h"

namespace lmforge {

namespace {

constexpr size_t kRowAlign = 64;

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves no fraction bits, so
// the FPU's default rounding does the work (no libm call). This is the rounding llama.cpp's AVX2
// activation quantizer uses (_mm256_round_ps, round-to-nearest).
inline float round_nearest_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

float dot_row_f32(const uint8_t* w, const float* x, uint64_t cols) {
  float acc = 0.0f;
  for (uint64_t c = 0; c < cols; ++c) {
    float v;
    std::memcpy(&v, w + 4 * c, 4);
    acc += v * x[c];
  }
  return acc;
}

float dot_row_f16(const uint8_t* w, const float* x, uint64_t cols) {
  const float* table = fp16_to_fp32_table();
  float acc = 0.0f;
  for (uint64_t c = 0; c < cols; ++c) {
    uint16_t h;
    std::memcpy(&h, w + 2 * c, 2);
    acc += table[h] * x[c];
  }
  return acc;
}

float dot_row_bf16(const uint8_t* w, const float* x, uint64_t cols) {
  float acc = 0.0f;
  for (uint64_t c = 0; c < cols; ++c) {
    uint16_t h;
    std::memcpy(&h, w + 2 * c, 2);
    acc += bf16_to_fp32(h) * x[c];
  }
  return acc;
}

float dot_row_q8_0(const uint8_t* w, const int8_t* q, const float* d, uint64_t nb) {
  float acc = 0.0f;
  for (uint64_t b = 0; b < nb; ++b, w += kQ8_0BlockBytes, q += kQK) {
    int32_t isum = 0;
    for (size_t j = 0; j < kQK; ++j) isum += static_cast<int8_t>(w[2 + j]) * q[j];
    acc += (load_f16(w) * d[b]) * static_cast<float>(isum);
  }
  return acc;
}

float dot_row_q4_0(const uint8_t* w, const int8_t* q, const float* d, const float* s, uint64_t nb) {
  float acc = 0.0f;
  for (uint64_t b = 0; b < nb; ++b, w += kQ4_0BlockBytes, q += kQK) {
    int32_t isum = 0;
    for (size_t j = 0; j < kQK / 2; ++j) {
      isum += (w[2 + j] & 0x0F) * q[j];
      isum += (w[2 + j] >> 4) * q[j + kQK / 2];
    }
    // sum (n - 8) q = sum n q - 8 sum q, exact in float (|values| < 2^24).
    acc += (load_f16(w) * d[b]) * (static_cast<float>(isum) - 8.0f * s[b]);
  }
  return acc;
}

}  // namespace

bool matmul_supports(DType t) { return kernel_weight_type(t) != nullptr; }

void PackedActivations::reset(DType weight_type, size_t n, uint64_t cols) {
  weight_type_ = weight_type;
  n_ = n;
  cols_ = cols;
  const KernelWeightType* kind = kernel_weight_type(weight_type);
  scaled_sums_ = kind != nullptr && kind->activations == ActivationForm::kInt8BlocksScaledSums;
  super_blocks_ = kind != nullptr && kind->activations == ActivationForm::kInt8SuperBlocks;
  quantized_ = kind != nullptr && kind->activations != ActivationForm::kFloats;
  if (super_blocks_) {
    scales_offset_ = round_up(cols, 16);  // q bytes, then d (floats), then the int16 sums
    row_bytes_ = round_up(scales_offset_ + (cols / kSuperBlock) * sizeof(float) + (cols / kSumGroup) * sizeof(int16_t),
                          kRowAlign);
  } else if (quantized_) {
    scales_offset_ = round_up(cols, 16);  // q bytes, then floats 16-byte aligned
    row_bytes_ = round_up(scales_offset_ + 2 * (cols / kQK) * sizeof(float), kRowAlign);
  } else {
    scales_offset_ = 0;
    row_bytes_ = round_up(cols * sizeof(float), kRowAlign);
  }
  if (row_bytes_ == 0) row_bytes_ = kRowAlign;
  const size_t need = row_bytes_ * (n > 0 ? n : 1);
  if (need > capacity_) {
    data_ = hwy::AllocateAligned<uint8_t>(need);
    capacity_ = need;
  }
}

void quantize_activation_row_scalar(const float* x, uint64_t cols, int8_t* q, float* d, float* s, bool scaled_sums) {
  for (uint64_t b = 0; b < cols / kQK; ++b, x += kQK, q += kQK) {
    float amax = 0.0f;
    for (size_t j = 0; j < kQK; ++j) {
      const float a = x[j] < 0 ? -x[j] : x[j];
      amax = a > amax ? a : amax;  // NaN never wins
    }
    // As llama.cpp: scale d = amax / 127 stored as fp16; quantize with 127 / amax (unrounded).
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    d[b] = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
    int32_t sum = 0;
    for (size_t j = 0; j < kQK; ++j) {
      float v = round_nearest_even(x[j] * id);
      if (!(v >= -127.0f && v <= 127.0f)) v = 0.0f;  // NaN or infinite input: no UB on the cast
      q[j] = static_cast<int8_t>(v);
      sum += q[j];
    }
    s[b] = static_cast<float>(sum);
    // llama.cpp's Q8_1: the unrounded scale times the sum, rounded to fp16.
    if (scaled_sums) s[b] = fp16_to_fp32(fp32_to_fp16(amax / 127.0f * s[b]));
  }
}

void PackedActivations::pack_rows_scalar(const float* x, size_t ldx, size_t t0, size_t t1) {
  if (super_blocks_) return pack_rows_kquant_scalar(*this, x, ldx, t0, t1);
  for (size_t t = t0; t < t1; ++t) {
    if (quantized_) {
      quantize_activation_row_scalar(x + t * ldx, cols_, quants(t), block_scales(t), block_sums(t), scaled_sums_);
    } else {
      std::memcpy(floats(t), x + t * ldx, cols_ * sizeof(float));
    }
  }
}

void matmul_packed_scalar(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                          uint64_t r1) {
  if (is_kquant_weight(w.type)) return matmul_packed_kquant_scalar(w, x, y, ldy, r0, r1);
  const uint64_t nb = w.cols / kQK;
  for (size_t t = 0; t < x.n(); ++t) {
    for (uint64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = w.row(r);
      float v = 0.0f;
      switch (w.type) {
        case DType::F32: v = dot_row_f32(wr, x.floats(t), w.cols); break;
        case DType::F16: v = dot_row_f16(wr, x.floats(t), w.cols); break;
        case DType::BF16: v = dot_row_bf16(wr, x.floats(t), w.cols); break;
        case DType::Q8_0: v = dot_row_q8_0(wr, x.quants(t), x.block_scales(t), nb); break;
        case DType::Q4_0: v = dot_row_q4_0(wr, x.quants(t), x.block_scales(t), x.block_sums(t), nb); break;
        case DType::Q4_1: v = dot_row_q4_1(wr, x.quants(t), x.block_scales(t), x.block_sums(t), nb); break;
        case DType::Q5_0: v = dot_row_q5_0(wr, x.quants(t), x.block_scales(t), x.block_sums(t), nb); break;
        case DType::Q5_1: v = dot_row_q5_1(wr, x.quants(t), x.block_scales(t), x.block_sums(t), nb); break;
        default: break;
      }
      y[t * ldy + r] = v;
    }
  }
}

}  // namespace lmforge
