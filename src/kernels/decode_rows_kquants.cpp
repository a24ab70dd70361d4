// Highway row decoders of the K-quant super-blocks (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; byte layouts
// in quant/k_quants.h), compiled once per SIMD target (foreach_target.h) and picked at run time.
// Each gives exactly the floats of its reference (quant/qN_k.cpp dequantize_row_qN_k): the
// group's scale (and min) products are rounded in scalar code exactly as the reference rounds
// them (d * float(scale), dmin * float(min); Q6_K's d * float(scale)), and only the last steps
// run in vectors: dl * float(q) - ml, or dl * float(q). A super-block whose f16 d or dmin is
// infinite or NaN is decoded by the reference itself (NaN payloads could differ otherwise).

#include <cstring>

#include "core/half.h"
#include "kernels/decode_rows_dispatch.h"
#include "kernels/kquant_blocks.h"
#include "quant/k_quants.h"
#include "quant/type_traits.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/decode_rows_kquants.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/decode_rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {

namespace {

// The f16 at `p` as a float, or false when it is infinite or NaN.
bool LoadFiniteF16(const uint8_t* p, float* out) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  if ((h & 0x7C00u) == 0x7C00u) return false;
  *out = fp16_to_fp32(h);
  return true;
}

}  // namespace

// Q2_K: scales[16] @0 (scale low nibble, min high nibble), qs[64] @16, d @80, dmin @82.
// Element 128 h + 32 s + l holds bits 2 s of qs[32 h + l]; group (j / 16) scale and min.
void DecodeRowQ2_K(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto three = hn::Set(di, 3);
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ2_KBlockBytes, y += kQK_K) {
    float d, min;
    if (!LoadFiniteF16(in + 80, &d) || !LoadFiniteF16(in + 82, &min)) {
      decode_row(DType::Q2_K, in, y, kQK_K);
      continue;
    }
    float dl[16], ml[16];
    for (int g = 0; g < 16; ++g) {
      dl[g] = d * static_cast<float>(in[g] & 0xF);
      ml[g] = min * static_cast<float>(in[g] >> 4);
    }
    for (size_t h = 0; h < 2; ++h) {
      for (size_t l = 0; l < 32; l += N) {
        const auto bytes = LoadU8AsI32(in + 16 + 32 * h + l);
        for (int s = 0; s < 4; ++s) {
          const size_t j = 128 * h + 32 * s + l;
          const auto q = hn::And(hn::ShiftRightSame(bytes, 2 * s), three);
          StoreScaledMinus(q, dl[j / 16], ml[j / 16], y + j);
        }
      }
    }
  }
}

// Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108. Element 128 h + 32 s + l: two low
// bits as Q2_K's, third bit = bit 4 h + s of hmask[l]; code = low - (third ? 0 : 4).
void DecodeRowQ3_K(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto three = hn::Set(di, 3), four = hn::Set(di, 4);
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ3_KBlockBytes, y += kQK_K) {
    float d;
    if (!LoadFiniteF16(in + 108, &d)) {
      decode_row(DType::Q3_K, in, y, kQK_K);
      continue;
    }
    int8_t scales[16];
    unpack_scales_q3_k(in + 96, scales);
    float dl[16];
    for (int g = 0; g < 16; ++g) dl[g] = d * static_cast<float>(scales[g]);
    for (size_t h = 0; h < 2; ++h) {
      for (size_t l = 0; l < 32; l += N) {
        const auto bytes = LoadU8AsI32(in + 32 + 32 * h + l);
        const auto hmask = LoadU8AsI32(in + l);
        for (int s = 0; s < 4; ++s) {
          const size_t j = 128 * h + 32 * s + l;
          const auto low = hn::And(hn::ShiftRightSame(bytes, 2 * s), three);
          const auto third = hn::TestBit(hmask, hn::Set(di, 1 << (4 * h + s)));
          const auto q = hn::Sub(low, hn::IfThenZeroElse(third, four));
          StoreScaled(q, dl[j / 16], y + j);
        }
      }
    }
  }
}

// Q4_K: d @0, dmin @2, scales[12] @4 (eight 6-bit scales and mins), qs[128] @16. Pair p of
// 32-element groups: low nibbles of qs[32 p + l] are group 2 p, high nibbles group 2 p + 1.
void DecodeRowQ4_K(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto low4 = hn::Set(di, 0xF);
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ4_KBlockBytes, y += kQK_K) {
    float d, min;
    if (!LoadFiniteF16(in, &d) || !LoadFiniteF16(in + 2, &min)) {
      decode_row(DType::Q4_K, in, y, kQK_K);
      continue;
    }
    uint8_t sc[8], mn[8];
    unpack_scales_mins_k4(in + 4, sc, mn);
    for (size_t p = 0; p < 4; ++p) {
      const float d1 = d * static_cast<float>(sc[2 * p]), m1 = min * static_cast<float>(mn[2 * p]);
      const float d2 = d * static_cast<float>(sc[2 * p + 1]), m2 = min * static_cast<float>(mn[2 * p + 1]);
      for (size_t l = 0; l < 32; l += N) {
        const auto bytes = LoadU8AsI32(in + 16 + 32 * p + l);
        StoreScaledMinus(hn::And(bytes, low4), d1, m1, y + 64 * p + l);
        StoreScaledMinus(hn::ShiftRight<4>(bytes), d2, m2, y + 64 * p + 32 + l);
      }
    }
  }
}

// Q5_K: as Q4_K with qh[32] @16 and qs[128] @48; group g's fifth bit is bit g of qh[l].
void DecodeRowQ5_K(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto low4 = hn::Set(di, 0xF), sixteen = hn::Set(di, 16);
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ5_KBlockBytes, y += kQK_K) {
    float d, min;
    if (!LoadFiniteF16(in, &d) || !LoadFiniteF16(in + 2, &min)) {
      decode_row(DType::Q5_K, in, y, kQK_K);
      continue;
    }
    uint8_t sc[8], mn[8];
    unpack_scales_mins_k4(in + 4, sc, mn);
    for (size_t p = 0; p < 4; ++p) {
      const float d1 = d * static_cast<float>(sc[2 * p]), m1 = min * static_cast<float>(mn[2 * p]);
      const float d2 = d * static_cast<float>(sc[2 * p + 1]), m2 = min * static_cast<float>(mn[2 * p + 1]);
      const auto bit1 = hn::Set(di, 1 << (2 * p)), bit2 = hn::Set(di, 2 << (2 * p));
      for (size_t l = 0; l < 32; l += N) {
        const auto bytes = LoadU8AsI32(in + 48 + 32 * p + l);
        const auto high = LoadU8AsI32(in + 16 + l);
        const auto fifth1 = hn::IfThenElseZero(hn::TestBit(high, bit1), sixteen);
        const auto fifth2 = hn::IfThenElseZero(hn::TestBit(high, bit2), sixteen);
        StoreScaledMinus(hn::Or(hn::And(bytes, low4), fifth1), d1, m1, y + 64 * p + l);
        StoreScaledMinus(hn::Or(hn::ShiftRight<4>(bytes), fifth2), d2, m2, y + 64 * p + 32 + l);
      }
    }
  }
}

// Q6_K: ql[128] @0, qh[64] @128, int8 scales[16] @192, d @208. Half h (128 elements), l < 32:
// elements l, l + 32, l + 64, l + 96 take the low nibble of ql[l], of ql[l + 32], the high
// nibble of ql[l], of ql[l + 32], each with two bits of qh[l] (bits 0, 2, 4, 6) on top, minus 32.
void DecodeRowQ6_K(const uint8_t* in, float* y, size_t n) {
  const DecodeTagI32 di;
  const size_t N = hn::Lanes(di);
  const auto low4 = hn::Set(di, 0xF), three = hn::Set(di, 3), bias = hn::Set(di, 32);
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ6_KBlockBytes, y += kQK_K) {
    float d;
    if (!LoadFiniteF16(in + 208, &d)) {
      decode_row(DType::Q6_K, in, y, kQK_K);
      continue;
    }
    const auto* sc = reinterpret_cast<const int8_t*>(in + 192);
    float ds[16];  // ggml's order: (d * scale) * q
    for (int g = 0; g < 16; ++g) ds[g] = d * static_cast<float>(sc[g]);
    for (size_t h = 0; h < 2; ++h) {
      const uint8_t* ql = in + 64 * h;
      const uint8_t* qh = in + 128 + 32 * h;
      float* yh = y + 128 * h;
      for (size_t l = 0; l < 32; l += N) {
        const auto a = LoadU8AsI32(ql + l), c = LoadU8AsI32(ql + 32 + l), top = LoadU8AsI32(qh + l);
        const auto q1 = hn::Or(hn::And(a, low4), hn::ShiftLeft<4>(hn::And(top, three)));
        const auto q2 = hn::Or(hn::And(c, low4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(top), three)));
        const auto q3 = hn::Or(hn::ShiftRight<4>(a), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(top), three)));
        const auto q4 = hn::Or(hn::ShiftRight<4>(c), hn::ShiftLeft<4>(hn::ShiftRight<6>(top)));
        const size_t is = 8 * h + l / 16;
        StoreScaled(hn::Sub(q1, bias), ds[is], yh + l);
        StoreScaled(hn::Sub(q2, bias), ds[is + 2], yh + 32 + l);
        StoreScaled(hn::Sub(q3, bias), ds[is + 4], yh + 64 + l);
        StoreScaled(hn::Sub(q4, bias), ds[is + 6], yh + 96 + l);
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(DecodeRowQ2_K);
HWY_EXPORT(DecodeRowQ3_K);
HWY_EXPORT(DecodeRowQ4_K);
HWY_EXPORT(DecodeRowQ5_K);
HWY_EXPORT(DecodeRowQ6_K);

bool decode_kquants_fast(DType t, const uint8_t* in, float* out, size_t n) {
  switch (t) {
    case DType::Q2_K: HWY_DYNAMIC_DISPATCH(DecodeRowQ2_K)(in, out, n); return true;
    case DType::Q3_K: HWY_DYNAMIC_DISPATCH(DecodeRowQ3_K)(in, out, n); return true;
    case DType::Q4_K: HWY_DYNAMIC_DISPATCH(DecodeRowQ4_K)(in, out, n); return true;
    case DType::Q5_K: HWY_DYNAMIC_DISPATCH(DecodeRowQ5_K)(in, out, n); return true;
    case DType::Q6_K: HWY_DYNAMIC_DISPATCH(DecodeRowQ6_K)(in, out, n); return true;
    default: return false;
  }
}

}  // namespace lmforge
#endif  // HWY_ONCE
