#include "quant/q5.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/ggml_blocks.h"

namespace lmforge {

namespace {

// ggml converts with a C cast from float to a small integer type; for the in-range values the
// quantizers produce, that is truncation toward zero through int.
inline uint8_t truncate_to_u8(float v) {
  return static_cast<uint8_t>(static_cast<int>(v));
}

// The inverse of pack_q5: the 32 five-bit quants, 0..31.
void unpack_q5(const uint8_t* qh_in, const uint8_t* qs, uint8_t* q) {
  const uint32_t qh = static_cast<uint32_t>(qh_in[0]) | static_cast<uint32_t>(qh_in[1]) << 8 |
                      static_cast<uint32_t>(qh_in[2]) << 16 | static_cast<uint32_t>(qh_in[3]) << 24;
  for (size_t j = 0; j < kQK / 2; ++j) {
    q[j] = static_cast<uint8_t>((qs[j] & 0x0F) | ((qh >> j) & 1u) << 4);
    q[j + kQK / 2] = static_cast<uint8_t>((qs[j] >> 4) | ((qh >> (j + kQK / 2)) & 1u) << 4);
  }
}

}  // namespace

void pack_q5(const uint8_t* q, uint8_t* qh_out, uint8_t* qs) {
  uint32_t qh = 0;
  for (size_t j = 0; j < kQK / 2; ++j) {
    const uint8_t a = q[j], c = q[j + kQK / 2];
    qs[j] = static_cast<uint8_t>((a & 0x0F) | (c & 0x0F) << 4);
    qh |= static_cast<uint32_t>((a & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((c & 0x10u) >> 4) << (j + kQK / 2);
  }
  const uint8_t le[4] = {static_cast<uint8_t>(qh), static_cast<uint8_t>(qh >> 8),
                         static_cast<uint8_t>(qh >> 16), static_cast<uint8_t>(qh >> 24)};
  std::memcpy(qh_out, le, 4);
}


void quantize_row_q5_0(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ5_0BlockBytes) {
    // As in Q4_0: the element of largest magnitude (first on ties), sign kept, maps to -16.
    const float max = signed_absmax(x, kQK);
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(out, &dh, 2);
    uint8_t q[kQK];
    for (size_t j = 0; j < kQK; ++j) {
      // x * id lies in [-16, 16]; +16.5 then truncation rounds halves up; +16 clamps to 31.
      const auto v = static_cast<int8_t>(static_cast<int>(x[j] * id + 16.5f));
      q[j] = static_cast<uint8_t>(v < 31 ? v : 31);
    }
    pack_q5(q, out + 2, out + 6);
  }
}

void quantize_row_q5_1(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ5_1BlockBytes) {
    // The block's range [min, max] is cut into 31 steps; min is stored as the offset. ggml
    // starts the scan from +-FLT_MAX (unlike its Q4_1), which only matters for NaN input.
    float min = FLT_MAX, max = -FLT_MAX;
    for (size_t j = 0; j < kQK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = fp32_to_fp16(d), mh = fp32_to_fp16(min);
    std::memcpy(out, &dh, 2);
    std::memcpy(out + 2, &mh, 2);
    uint8_t q[kQK];
    // No clamp, as in ggml: (x - min) * id is at most 31 plus rounding, which truncates to 31.
    for (size_t j = 0; j < kQK; ++j) q[j] = truncate_to_u8((x[j] - min) * id + 0.5f);
    pack_q5(q, out + 4, out + 8);
  }
}

void dequantize_row_q5_0(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ5_0BlockBytes, y += kQK) {
    uint16_t dh;
    std::memcpy(&dh, in, 2);
    const float d = fp16_to_fp32(dh);
    uint8_t q[kQK];
    unpack_q5(in + 2, in + 6, q);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j] - 16) * d;
  }
}

void dequantize_row_q5_1(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, in += kQ5_1BlockBytes, y += kQK) {
    uint16_t dh, mh;
    std::memcpy(&dh, in, 2);
    std::memcpy(&mh, in + 2, 2);
    const float d = fp16_to_fp32(dh), m = fp16_to_fp32(mh);
    uint8_t q[kQK];
    unpack_q5(in + 4, in + 8, q);
    for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(q[j]) * d + m;
  }
}

}  // namespace lmforge
