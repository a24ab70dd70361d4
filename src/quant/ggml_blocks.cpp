#include "quant/ggml_blocks.h"

#include <cmath>
#include <cstring>

#include "core/half.h"

namespace lmforge {

namespace {
// roundf() for |v| <= 127, without a libm call: the fraction a - trunc(a) is exact in float,
// so comparing it with 0.5 rounds halves away from zero exactly as roundf does.
inline int8_t round_half_away(float v) {
  const float a = std::fabs(v);
  const int t = static_cast<int>(a);
  const int r = t + (a - static_cast<float>(t) >= 0.5f ? 1 : 0);
  return static_cast<int8_t>(v < 0 ? -r : r);
}
}  // namespace

// Rounding follows ggml's reference quantizers exactly. The build uses ISO C++ mode, where
// GCC does not contract `x * id + 8.5f` into an FMA; ggml builds that do contract can differ
// from us in the last bit of a rare tie, which llama.cpp's own builds also do among themselves.

void quantize_row_q8_0(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ8_0BlockBytes) {
    float amax = 0.0f;
    for (size_t j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(out, &dh, 2);
    for (size_t j = 0; j < kQK; ++j) out[2 + j] = static_cast<uint8_t>(round_half_away(x[j] * id));
  }
}

void quantize_row_q4_0(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ4_0BlockBytes) {
    // The element of largest magnitude (first on ties), sign kept, maps to -8.
    const float max = signed_absmax(x, kQK);
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(out, &dh, 2);
    for (size_t j = 0; j < kQK / 2; ++j) {
      const float a = x[j] * id;
      const float c = x[j + kQK / 2] * id;
      const int8_t qa = static_cast<int8_t>(a + 8.5f);
      const int8_t qc = static_cast<int8_t>(c + 8.5f);
      const uint8_t lo = static_cast<uint8_t>(qa < 15 ? qa : 15);
      const uint8_t hi = static_cast<uint8_t>(qc < 15 ? qc : 15);
      out[2 + j] = static_cast<uint8_t>(lo | hi << 4);
    }
  }
}

void quantize_row_q4_1(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ4_1BlockBytes) {
    // The block's range [min, max] is cut into 15 steps; min is stored as the offset.
    float min = x[0], max = x[0];
    for (size_t j = 1; j < kQK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = fp32_to_fp16(d), mh = fp32_to_fp16(min);
    std::memcpy(out, &dh, 2);
    std::memcpy(out + 2, &mh, 2);
    for (size_t j = 0; j < kQK / 2; ++j) {
      const float a = (x[j] - min) * id;
      const float c = (x[j + kQK / 2] - min) * id;
      const int8_t qa = static_cast<int8_t>(a + 0.5f);
      const int8_t qc = static_cast<int8_t>(c + 0.5f);
      const uint8_t lo = static_cast<uint8_t>(qa < 15 ? qa : 15);
      const uint8_t hi = static_cast<uint8_t>(qc < 15 ? qc : 15);
      out[4 + j] = static_cast<uint8_t>(lo | hi << 4);
    }
  }
}

void dequantize_row_q8_0(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ8_0BlockBytes, y += kQK) {
    uint16_t dh;
    std::memcpy(&dh, in, 2);
    const float d = fp16_to_fp32(dh);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(static_cast<int8_t>(in[2 + j])) * d;
  }
}

void dequantize_row_q4_0(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ4_0BlockBytes, y += kQK) {
    uint16_t dh;
    std::memcpy(&dh, in, 2);
    const float d = fp16_to_fp32(dh);
    for (size_t j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>((in[2 + j] & 0x0F) - 8) * d;
      y[j + kQK / 2] = static_cast<float>((in[2 + j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ4_1BlockBytes, y += kQK) {
    uint16_t dh, mh;
    std::memcpy(&dh, in, 2);
    std::memcpy(&mh, in + 2, 2);
    const float d = fp16_to_fp32(dh), m = fp16_to_fp32(mh);
    for (size_t j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>(in[4 + j] & 0x0F) * d + m;
      y[j + kQK / 2] = static_cast<float>(in[4 + j] >> 4) * d + m;
    }
  }
}

int64_t find_nonfinite_block_scale(const uint8_t* blocks, size_t n_blocks, size_t block_bytes) {
  for (size_t b = 0; b < n_blocks; ++b) {
    uint16_t d;
    std::memcpy(&d, blocks + b * block_bytes, 2);
    if ((d & 0x7C00u) == 0x7C00u) return static_cast<int64_t>(b);  // exponent all ones: inf or NaN
  }
  return -1;
}

}  // namespace lmforge
