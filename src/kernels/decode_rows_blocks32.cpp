// Highway row decoders of the 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1), compiled
// once per SIMD target (foreach_target.h) and picked at run time. Each gives exactly the floats
// of its reference in quant/ (ggml_blocks.cpp, q5.cpp): the same f16 -> f32 scale conversion
// (done once per block, in scalar code, by the same function) and the same float operations in
// the same order per element. A block whose f16 scale or min is infinite or NaN is decoded by
// the reference itself, so that even NaN payloads come out as it gives them (SIMD and scalar
// code may pick different NaN operands). See decode_rows.h.

#include <cstring>

#include "core/half.h"
#include "kernels/decode_rows_dispatch.h"
#include "quant/ggml_blocks.h"
#include "quant/q5.h"
#include "quant/type_traits.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/decode_rows_blocks32.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/decode_rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {

namespace {

uint16_t LoadF16Bits(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

bool IsInfOrNaN(uint16_t h) { return (h & 0x7C00u) == 0x7C00u; }

// Bit k of a block's 32-bit qh word belongs to element k; lane i of the mask at j tests bit j + i.
alignas(64) constexpr uint32_t kBit[32] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8,  1u << 9,  1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
    1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21, 1u << 22, 1u << 23,
    1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};

// 16 for the elements j .. j + N - 1 whose bit is set in qh, else 0 (the fifth bit of Q5 codes).
HWY_INLINE hn::Vec<DecodeTagI32> FifthBits(hn::Vec<DecodeTagI32> qh, size_t j) {
  const DecodeTagI32 di;
  const auto bit = hn::LoadU(di, reinterpret_cast<const int32_t*>(kBit + j));
  return hn::IfThenElseZero(hn::TestBit(qh, bit), hn::Set(di, 16));
}

}  // namespace

// Q8_0: d @0, 32 int8 codes @2; y = float(q) * d.
void DecodeRowQ8_0(const uint8_t* in, float* y, size_t n) {
  const size_t N = hn::Lanes(DecodeTag());
  for (size_t b = 0; b < n / kQK; ++b, in += kQ8_0BlockBytes, y += kQK) {
    const uint16_t dh = LoadF16Bits(in);
    if (IsInfOrNaN(dh)) {
      decode_row(DType::Q8_0, in, y, kQK);
      continue;
    }
    const float d = fp16_to_fp32(dh);
    const auto* q = reinterpret_cast<const int8_t*>(in + 2);
    for (size_t j = 0; j < kQK; j += N) StoreScaled(LoadI8AsI32(q + j), d, y + j);
  }
}

// Q4_0: d @0, 16 bytes @2 (low nibbles: elements 0-15, high: 16-31); y = float(q - 8) * d.
void DecodeRowQ4_0(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto low4 = hn::Set(di, 0xF), eight = hn::Set(di, 8);
  for (size_t b = 0; b < n / kQK; ++b, in += kQ4_0BlockBytes, y += kQK) {
    const uint16_t dh = LoadF16Bits(in);
    if (IsInfOrNaN(dh)) {
      decode_row(DType::Q4_0, in, y, kQK);
      continue;
    }
    const float d = fp16_to_fp32(dh);
    for (size_t j = 0; j < kQK / 2; j += N) {
      const auto bytes = LoadU8AsI32(in + 2 + j);
      StoreScaled(hn::Sub(hn::And(bytes, low4), eight), d, y + j);
      StoreScaled(hn::Sub(hn::ShiftRight<4>(bytes), eight), d, y + kQK / 2 + j);
    }
  }
}

// Q4_1: d @0, m @2, 16 bytes @4 (as Q4_0); y = float(q) * d + m.
void DecodeRowQ4_1(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto low4 = hn::Set(di, 0xF);
  for (size_t b = 0; b < n / kQK; ++b, in += kQ4_1BlockBytes, y += kQK) {
    const uint16_t dh = LoadF16Bits(in), mh = LoadF16Bits(in + 2);
    if (IsInfOrNaN(dh) || IsInfOrNaN(mh)) {
      decode_row(DType::Q4_1, in, y, kQK);
      continue;
    }
    const float d = fp16_to_fp32(dh), m = fp16_to_fp32(mh);
    for (size_t j = 0; j < kQK / 2; j += N) {
      const auto bytes = LoadU8AsI32(in + 4 + j);
      StoreScaledPlus(hn::And(bytes, low4), d, m, y + j);
      StoreScaledPlus(hn::ShiftRight<4>(bytes), d, m, y + kQK / 2 + j);
    }
  }
}

// Q5_0: d @0, qh (32 fifth bits, little-endian) @2, 16 nibble bytes @6; y = float(q - 16) * d.
void DecodeRowQ5_0(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto low4 = hn::Set(di, 0xF), sixteen = hn::Set(di, 16);
  for (size_t b = 0; b < n / kQK; ++b, in += kQ5_0BlockBytes, y += kQK) {
    const uint16_t dh = LoadF16Bits(in);
    if (IsInfOrNaN(dh)) {
      decode_row(DType::Q5_0, in, y, kQK);
      continue;
    }
    const float d = fp16_to_fp32(dh);
    int32_t qh_word;
    std::memcpy(&qh_word, in + 2, 4);
    const auto qh = hn::Set(di, qh_word);
    for (size_t j = 0; j < kQK / 2; j += N) {
      const auto bytes = LoadU8AsI32(in + 6 + j);
      const auto lo = hn::Or(hn::And(bytes, low4), FifthBits(qh, j));
      const auto hi = hn::Or(hn::ShiftRight<4>(bytes), FifthBits(qh, kQK / 2 + j));
      StoreScaled(hn::Sub(lo, sixteen), d, y + j);
      StoreScaled(hn::Sub(hi, sixteen), d, y + kQK / 2 + j);
    }
  }
}

// Q5_1: d @0, m @2, qh @4, 16 nibble bytes @8; y = float(q) * d + m.
void DecodeRowQ5_1(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto low4 = hn::Set(di, 0xF);
  for (size_t b = 0; b < n / kQK; ++b, in += kQ5_1BlockBytes, y += kQK) {
    const uint16_t dh = LoadF16Bits(in), mh = LoadF16Bits(in + 2);
    if (IsInfOrNaN(dh) || IsInfOrNaN(mh)) {
      decode_row(DType::Q5_1, in, y, kQK);
      continue;
    }
    const float d = fp16_to_fp32(dh), m = fp16_to_fp32(mh);
    int32_t qh_word;
    std::memcpy(&qh_word, in + 4, 4);
    const auto qh = hn::Set(di, qh_word);
    for (size_t j = 0; j < kQK / 2; j += N) {
      const auto bytes = LoadU8AsI32(in + 8 + j);
      StoreScaledPlus(hn::Or(hn::And(bytes, low4), FifthBits(qh, j)), d, m, y + j);
      StoreScaledPlus(hn::Or(hn::ShiftRight<4>(bytes), FifthBits(qh, kQK / 2 + j)), d, m,
                      y + kQK / 2 + j);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(DecodeRowQ8_0);
HWY_EXPORT(DecodeRowQ4_0);
HWY_EXPORT(DecodeRowQ4_1);
HWY_EXPORT(DecodeRowQ5_0);
HWY_EXPORT(DecodeRowQ5_1);

bool decode_blocks32_fast(DType t, const uint8_t* in, float* out, size_t n) {
  switch (t) {
    case DType::Q8_0: HWY_DYNAMIC_DISPATCH(DecodeRowQ8_0)(in, out, n); return true;
    case DType::Q4_0: HWY_DYNAMIC_DISPATCH(DecodeRowQ4_0)(in, out, n); return true;
    case DType::Q4_1: HWY_DYNAMIC_DISPATCH(DecodeRowQ4_1)(in, out, n); return true;
    case DType::Q5_0: HWY_DYNAMIC_DISPATCH(DecodeRowQ5_0)(in, out, n); return true;
    case DType::Q5_1: HWY_DYNAMIC_DISPATCH(DecodeRowQ5_1)(in, out, n); return true;
    default: return false;
  }
}

}  // namespace lmforge
#endif  // HWY_ONCE
