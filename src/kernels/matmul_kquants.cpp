// Highway kernels for the K-quant products (matmul_kquants.h), compiled once per SIMD target
// (foreach_target.h) and picked at run time.
//
// A product is a loop nest of RM weight rows x RN activation rows tiles (as matmul.cpp's), each
// tile keeping one float vector accumulator per (row, token). Per (weight super-block,
// activation super-block) pair the integer work follows the route llama.cpp's x86 kernels take
// (ggml-cpu/arch/x86/quants.c, ggml_vec_dot_qN_K_q8_K):
//   - codes are unpacked to unsigned bytes (Q2_K 0..3, Q3_K 0..7, Q4_K 0..15, Q5_K 0..31,
//     Q6_K 0..63) and multiplied with the int8 activations by vpmaddubsw (16-bit pair sums,
//     never saturating: at most 2 * 63 * 127);
//   - vpmaddwd with the group scales, broadcast to the 16-bit lanes of their 16 or 32 codes,
//     finishes the pair sums and applies the scales in one instruction (32-bit lanes);
//   - the per-group offsets use the activations' 16-code sums: Q3_K's -4 and Q6_K's -32 (kept
//     out of the unsigned codes) come off the integer sum as 4 (32) * sum_g scale_g * sums_g;
//     the mins of Q2_K/Q4_K/Q5_K are sum_g min_g * sums_g, scaled by -dmin in float.
// The integer vector is converted once per super-block and added with d_w * d_x (an FMA).
// Targets without x86's byte multiply-add (EMU128, SSE4, non-x86) decode each super-block
// to int8 (kquant_blocks.h) and dot 16-code groups through 16-bit lanes, as the scalar twin
// does.

#include <cstring>

#include "core/half.h"
#include "kernels/kquant_blocks.h"
#include "kernels/matmul_kquants.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matmul_kquants.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#undef LMFORGE_KQ_X86
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define LMFORGE_KQ_X86 1
#else
#define LMFORGE_KQ_X86 0
#endif

#ifndef LMFORGE_KQ_UNROLL
#define LMFORGE_KQ_UNROLL _Pragma("GCC unroll 16")
#endif

// ------------------------------------------------------------------------------------------
// Activation packing (Q8_K form), byte-identical to quantize_activation_row_k_scalar.

void QuantizeActivationRowK(const float* x, uint64_t cols, int8_t* q, float* d, int16_t* sums) {
  const hn::CappedTag<float, 8> df;
  const size_t N = hn::Lanes(df);
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  for (uint64_t k = 0; k < cols / kSuperBlock; ++k, x += kSuperBlock, q += kSuperBlock) {
    auto vmax = hn::Zero(df);
    for (size_t j = 0; j < kSuperBlock; j += N) {
      const auto a = hn::Abs(hn::LoadU(df, x + j));
      vmax = hn::IfThenElse(hn::Gt(a, vmax), a, vmax);  // NaN never wins, as in the twin
    }
    const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
    int16_t* s = sums + k * (kSuperBlock / kSumGroup);
    if (!(amax > 0.0f)) {  // all zero (a NaN-only block also lands here, as in the twin)
      d[k] = 0.0f;
      std::memset(q, 0, kSuperBlock);
      std::memset(s, 0, (kSuperBlock / kSumGroup) * sizeof(int16_t));
      continue;
    }
    // The first value of largest magnitude, sign kept, as the twin picks it.
    float max = 0.0f;
    for (size_t j = 0; j < kSuperBlock; ++j) {
      if ((x[j] < 0 ? -x[j] : x[j]) == amax) {
        max = x[j];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const auto vis = hn::Set(df, iscale);
    const auto magic = hn::Set(df, 12582912.0f);  // 1.5 * 2^23: round to nearest even
    for (size_t g = 0; g < kSuperBlock; g += kSumGroup) {
      auto vsum = hn::Zero(di);
      for (size_t j = g; j < g + kSumGroup; j += N) {
        const auto r = hn::Mul(hn::LoadU(df, x + j), vis);
        auto v = hn::Sub(hn::Add(r, magic), magic);
        const auto ok = hn::And(hn::Ge(r, hn::Set(df, -127.5f)), hn::Le(r, hn::Set(df, 127.5f)));
        v = hn::Min(hn::IfThenElseZero(ok, v), hn::Set(df, 127.0f));
        const auto vi = hn::ConvertTo(di, v);
        vsum = hn::Add(vsum, vi);
        hn::StoreU(hn::DemoteTo(d8, vi), d8, q + j);
      }
      s[g / kSumGroup] = static_cast<int16_t>(hn::GetLane(hn::SumOfLanes(di, vsum)));
    }
    d[k] = 1.0f / iscale;
  }
}

void PackRowsK(PackedActivations& p, const float* x, size_t ldx, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; ++t)
    QuantizeActivationRowK(x + t * ldx, p.cols(), p.quants(t), p.block_scales(t), p.group_sums(t));
}

// ------------------------------------------------------------------------------------------
// One (weight super-block, activation super-block) product, added to a float accumulator.

#if LMFORGE_KQ_X86
// One F16C conversion (every x86 target of this path has it), not the branchy portable one.
HWY_INLINE float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}
#else
inline float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}
#endif

#if LMFORGE_KQ_X86

using VF = __m256;

HWY_INLINE __m256i Load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Sixteen 8-bit group scales (groups of 16 codes) widened to 16 bits, groups 0-7 in both halves
// of `lo` and 8-15 in both halves of `hi`, so that one in-lane byte shuffle spreads any pair.
struct Scales16 {
  __m256i lo, hi;
};
template <bool kSigned>
HWY_INLINE Scales16 WidenScales(__m128i s) {
  const __m256i all = kSigned ? _mm256_cvtepi8_epi16(s) : _mm256_cvtepu8_epi16(s);
  const __m128i lo = _mm256_castsi256_si128(all), hi = _mm256_extracti128_si256(all, 1);
  return {_mm256_inserti128_si256(_mm256_castsi128_si256(lo), lo, 1),
          _mm256_inserti128_si256(_mm256_castsi128_si256(hi), hi, 1)};
}

// 16-bit lanes 0-7 = scale of group 2p, lanes 8-15 = scale of group 2p + 1: the scales of the
// two 16-code groups of one 32-code register (p < 8; compile-time after unrolling).
HWY_INLINE __m256i PairScales(const Scales16& s, int p) {
  const int a = (2 * (2 * p)) % 16, b = (2 * (2 * p + 1)) % 16;  // byte offsets in a half
  const __m256i pick = _mm256_setr_epi8(
      static_cast<char>(a), static_cast<char>(a + 1), static_cast<char>(a), static_cast<char>(a + 1),
      static_cast<char>(a), static_cast<char>(a + 1), static_cast<char>(a), static_cast<char>(a + 1),
      static_cast<char>(a), static_cast<char>(a + 1), static_cast<char>(a), static_cast<char>(a + 1),
      static_cast<char>(a), static_cast<char>(a + 1), static_cast<char>(a), static_cast<char>(a + 1),
      static_cast<char>(b), static_cast<char>(b + 1), static_cast<char>(b), static_cast<char>(b + 1),
      static_cast<char>(b), static_cast<char>(b + 1), static_cast<char>(b), static_cast<char>(b + 1),
      static_cast<char>(b), static_cast<char>(b + 1), static_cast<char>(b), static_cast<char>(b + 1),
      static_cast<char>(b), static_cast<char>(b + 1), static_cast<char>(b), static_cast<char>(b + 1));
  return _mm256_shuffle_epi8(p < 4 ? s.lo : s.hi, pick);
}

// Every 16-bit lane = scale g of eight 16-bit scales held in both halves of `s` (g < 8).
HWY_INLINE __m256i GroupScale(__m256i s, int g) {
  return _mm256_shuffle_epi8(s, _mm256_set1_epi16(static_cast<short>((2 * g) | (2 * g + 1) << 8)));
}

// codes (unsigned bytes) . activations, scaled per 16-bit lane, as eight 32-bit sums.
HWY_INLINE __m256i ScaledDot(__m256i codes, const int8_t* x, __m256i scales) {
  return _mm256_madd_epi16(scales, _mm256_maddubs_epi16(codes, Load32(x)));
}

HWY_INLINE VF AddScaled(__m256i sum, float scale, VF acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(scale), acc);
}

// The twelve Q4_K/Q5_K scale bytes as a register: bytes 0-7 the scales, 8-15 the mins (the
// word arithmetic of unpack_scales_mins_k4, kept in registers).
HWY_INLINE __m128i ScalesMinsK4(const uint8_t* p) {
  uint32_t u[3];
  std::memcpy(u, p, 12);
  const uint32_t s_lo = u[0] & 0x3f3f3f3fu;
  const uint32_t m_lo = u[1] & 0x3f3f3f3fu;
  const uint32_t s_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
  return _mm_set_epi32(static_cast<int>(m_hi), static_cast<int>(m_lo), static_cast<int>(s_hi), static_cast<int>(s_lo));
}

// The eight scales as 16-bit lanes, in both halves (for GroupScale).
HWY_INLINE __m256i ScalesK4(__m128i scales_mins) {
  const __m128i s = _mm_cvtepu8_epi16(scales_mins);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(s), s, 1);
}

// sum over the eight 32-code groups of min_g * (sums[2g] + sums[2g + 1]), in four 32-bit lanes
// (upper half zero).
HWY_INLINE __m256i MinsTimesSumsK4(__m128i scales_mins, const int16_t* sums) {
  const __m256i s = Load32(sums);
  const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(scales_mins, 8));
  return _mm256_zextsi128_si256(_mm_madd_epi16(mins, pairs));
}

// Q3_K's twelve scale bytes as sixteen signed scales (unpack_scales_q3_k in registers).
HWY_INLINE __m128i ScalesQ3K(const uint8_t* p) {
  uint32_t a[3];
  std::memcpy(a, p, 12);
  const uint32_t w0 = (a[0] & 0x0f0f0f0fu) | ((a[2] >> 0) & 0x03030303u) << 4;
  const uint32_t w1 = (a[1] & 0x0f0f0f0fu) | ((a[2] >> 2) & 0x03030303u) << 4;
  const uint32_t w2 = ((a[0] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 4) & 0x03030303u) << 4;
  const uint32_t w3 = ((a[1] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 6) & 0x03030303u) << 4;
  const __m128i biased = _mm_set_epi32(static_cast<int>(w3), static_cast<int>(w2), static_cast<int>(w1), static_cast<int>(w0));
  return _mm_sub_epi8(biased, _mm_set1_epi8(32));
}

// A weight super-block unpacked once for a prompt tile, whose every token then needs only the
// multiply-adds: codes of chunk c (elements 32c .. 32c + 31) as unsigned bytes, the 16-bit
// scales of their lanes, and per 16-code group the integer the activations' group sums are
// multiplied by (Q2_K/Q4_K/Q5_K: the min; Q3_K: 4 * scale; Q6_K: 32 * scale).
struct Decoded {
  __m256i codes[8];
  __m256i scales[8];
  __m256i offsets;
  float d, dmin;  // dmin: the mins' scale (unused when the offset folds into the integer sum)
};

// The Decoded block's product with one activation super-block, added to acc. kFold: the offset
// is part of the codes (Q3_K, Q6_K): subtracted in integers, under d.
template <bool kFold>
HWY_INLINE VF DotDecoded(const Decoded& D, const int8_t* x, float dx, const int16_t* sums, VF acc) {
  __m256i sumi = _mm256_setzero_si256();
  LMFORGE_KQ_UNROLL
  for (int c = 0; c < 8; ++c) sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(D.scales[c], _mm256_maddubs_epi16(D.codes[c], Load32(x + 32 * c))));
  const __m256i summ = _mm256_madd_epi16(Load32(sums), D.offsets);
  if (kFold) return AddScaled(_mm256_sub_epi32(sumi, summ), D.d * dx, acc);
  acc = AddScaled(sumi, D.d * dx, acc);
  return AddScaled(summ, -(D.dmin * dx), acc);
}

// Q4_K/Q5_K mins (bytes 8-15 of ScalesMinsK4) as the 16 group offsets (each min twice).
HWY_INLINE __m256i MinOffsetsK4(__m128i scales_mins) {
  const __m128i m = _mm_srli_si128(scales_mins, 8);
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));
}

struct KQ4 {
  static constexpr size_t kBytes = kQ4_KBlockBytes;  // d, dmin, scales[12], qs[128]
  static constexpr bool kFold = false;
  HWY_INLINE static void Decode(const uint8_t* w, Decoded& D) {
    const __m128i sm = ScalesMinsK4(w + 4);
    const __m256i sc = ScalesK4(sm);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    LMFORGE_KQ_UNROLL
    for (int c = 0; c < 4; ++c) {
      const __m256i bits = Load32(w + 16 + 32 * c);
      D.codes[2 * c] = _mm256_and_si256(bits, low4);
      D.codes[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
      D.scales[2 * c] = GroupScale(sc, 2 * c);
      D.scales[2 * c + 1] = GroupScale(sc, 2 * c + 1);
    }
    D.offsets = MinOffsetsK4(sm);
    D.d = LoadHalf(w);
    D.dmin = LoadHalf(w + 2);
  }
  HWY_INLINE static VF Dot(const uint8_t* w, const int8_t* x, float dx, const int16_t* sums, VF acc) {
    const __m128i sm = ScalesMinsK4(w + 4);
    const __m256i sc = ScalesK4(sm);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i sumi = _mm256_setzero_si256();
    LMFORGE_KQ_UNROLL
    for (int c = 0; c < 4; ++c) {
      const __m256i bits = Load32(w + 16 + 32 * c);
      const __m256i lo = _mm256_and_si256(bits, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
      sumi = _mm256_add_epi32(sumi, ScaledDot(lo, x + 64 * c, GroupScale(sc, 2 * c)));
      sumi = _mm256_add_epi32(sumi, ScaledDot(hi, x + 64 * c + 32, GroupScale(sc, 2 * c + 1)));
    }
    acc = AddScaled(sumi, LoadHalf(w) * dx, acc);
    return AddScaled(MinsTimesSumsK4(sm, sums), -(LoadHalf(w + 2) * dx), acc);
  }
};

// Bit `bit` of every byte of v, moved to bit `to` (bit, to < 8; compile-time after unrolling).
HWY_INLINE __m256i BitTo(__m256i v, int bit, int to) {
  const __m256i moved = bit < to ? _mm256_slli_epi16(v, to - bit) : _mm256_srli_epi16(v, bit - to);
  return _mm256_and_si256(moved, _mm256_set1_epi8(static_cast<char>(1 << to)));
}

struct KQ5 {
  static constexpr size_t kBytes = kQ5_KBlockBytes;  // d, dmin, scales[12], qh[32], qs[128]
  static constexpr bool kFold = false;
  HWY_INLINE static void Decode(const uint8_t* w, Decoded& D) {
    const __m128i sm = ScalesMinsK4(w + 4);
    const __m256i sc = ScalesK4(sm);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i qh = Load32(w + 16);
    LMFORGE_KQ_UNROLL
    for (int c = 0; c < 4; ++c) {
      const __m256i bits = Load32(w + 48 + 32 * c);
      D.codes[2 * c] = _mm256_or_si256(_mm256_and_si256(bits, low4), BitTo(qh, 2 * c, 4));
      D.codes[2 * c + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), low4), BitTo(qh, 2 * c + 1, 4));
      D.scales[2 * c] = GroupScale(sc, 2 * c);
      D.scales[2 * c + 1] = GroupScale(sc, 2 * c + 1);
    }
    D.offsets = MinOffsetsK4(sm);
    D.d = LoadHalf(w);
    D.dmin = LoadHalf(w + 2);
  }
  HWY_INLINE static VF Dot(const uint8_t* w, const int8_t* x, float dx, const int16_t* sums, VF acc) {
    const __m128i sm = ScalesMinsK4(w + 4);
    const __m256i sc = ScalesK4(sm);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i qh = Load32(w + 16);
    __m256i sumi = _mm256_setzero_si256();
    LMFORGE_KQ_UNROLL
    for (int c = 0; c < 4; ++c) {
      const __m256i bits = Load32(w + 48 + 32 * c);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, low4), BitTo(qh, 2 * c, 4));
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), low4), BitTo(qh, 2 * c + 1, 4));
      sumi = _mm256_add_epi32(sumi, ScaledDot(lo, x + 64 * c, GroupScale(sc, 2 * c)));
      sumi = _mm256_add_epi32(sumi, ScaledDot(hi, x + 64 * c + 32, GroupScale(sc, 2 * c + 1)));
    }
    acc = AddScaled(sumi, LoadHalf(w) * dx, acc);
    return AddScaled(MinsTimesSumsK4(sm, sums), -(LoadHalf(w + 2) * dx), acc);
  }
};

struct KQ6 {
  static constexpr size_t kBytes = kQ6_KBlockBytes;  // ql[128], qh[64], scales[16], d
  static constexpr bool kFold = true;
  HWY_INLINE static void Decode(const uint8_t* w, Decoded& D) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 192));
    D.offsets = _mm256_slli_epi16(_mm256_cvtepi8_epi16(raw), 5);
    const Scales16 sc = WidenScales<true>(raw);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i top = _mm256_set1_epi8(0x30);
    LMFORGE_KQ_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = Load32(w + 64 * h);
      const __m256i ql1 = Load32(w + 64 * h + 32);
      const __m256i qh = Load32(w + 128 + 32 * h);
      D.codes[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), top));
      D.codes[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), top));
      D.codes[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, top));
      D.codes[4 * h + 3] =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), top));
      LMFORGE_KQ_UNROLL
      for (int k = 0; k < 4; ++k) D.scales[4 * h + k] = PairScales(sc, 4 * h + k);
    }
    D.d = LoadHalf(w + 208);
    D.dmin = 0.0f;
  }
  HWY_INLINE static VF Dot(const uint8_t* w, const int8_t* x, float dx, const int16_t* sums, VF acc) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 192));
    // The -32 of every code: 32 * sum_g scale_g * sums_g.
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(Load32(sums), _mm256_cvtepi8_epi16(raw)), 5);
    const Scales16 sc = WidenScales<true>(raw);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i sumi = _mm256_setzero_si256();
    LMFORGE_KQ_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = Load32(w + 64 * h);
      const __m256i ql1 = Load32(w + 64 * h + 32);
      const __m256i qh = Load32(w + 128 + 32 * h);
      const __m256i top = _mm256_set1_epi8(0x30);
      const __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), top));
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), top));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, top));
      const __m256i q3 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), top));
      const int8_t* xh = x + 128 * h;
      sumi = _mm256_add_epi32(sumi, ScaledDot(q0, xh, PairScales(sc, 4 * h + 0)));
      sumi = _mm256_add_epi32(sumi, ScaledDot(q1, xh + 32, PairScales(sc, 4 * h + 1)));
      sumi = _mm256_add_epi32(sumi, ScaledDot(q2, xh + 64, PairScales(sc, 4 * h + 2)));
      sumi = _mm256_add_epi32(sumi, ScaledDot(q3, xh + 96, PairScales(sc, 4 * h + 3)));
    }
    return AddScaled(_mm256_sub_epi32(sumi, offset), LoadHalf(w + 208) * dx, acc);
  }
};

struct KQ3 {
  static constexpr size_t kBytes = kQ3_KBlockBytes;  // hmask[32], qs[64], scales[12], d
  static constexpr bool kFold = true;
  HWY_INLINE static void Decode(const uint8_t* w, Decoded& D) {
    const __m128i raw = ScalesQ3K(w + 96);
    D.offsets = _mm256_slli_epi16(_mm256_cvtepi8_epi16(raw), 2);
    const Scales16 sc = WidenScales<true>(raw);
    const __m256i hm = Load32(w);
    const __m256i low2 = _mm256_set1_epi8(3);
    LMFORGE_KQ_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i qs = Load32(w + 32 + 32 * h);
      LMFORGE_KQ_UNROLL
      for (int k = 0; k < 4; ++k) {
        const __m256i low = _mm256_and_si256(k == 0 ? qs : _mm256_srli_epi16(qs, 2 * k), low2);
        D.codes[4 * h + k] = _mm256_or_si256(low, BitTo(hm, 4 * h + k, 2));
        D.scales[4 * h + k] = PairScales(sc, 4 * h + k);
      }
    }
    D.d = LoadHalf(w + 108);
    D.dmin = 0.0f;
  }
  HWY_INLINE static VF Dot(const uint8_t* w, const int8_t* x, float dx, const int16_t* sums, VF acc) {
    const __m128i raw = ScalesQ3K(w + 96);
    // The -4 of every code: 4 * sum_g scale_g * sums_g.
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(Load32(sums), _mm256_cvtepi8_epi16(raw)), 2);
    const Scales16 sc = WidenScales<true>(raw);
    const __m256i hm = Load32(w);
    const __m256i low2 = _mm256_set1_epi8(3);
    __m256i sumi = _mm256_setzero_si256();
    LMFORGE_KQ_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i qs = Load32(w + 32 + 32 * h);
      LMFORGE_KQ_UNROLL
      for (int k = 0; k < 4; ++k) {
        const __m256i low = _mm256_and_si256(k == 0 ? qs : _mm256_srli_epi16(qs, 2 * k), low2);
        const __m256i q = _mm256_or_si256(low, BitTo(hm, 4 * h + k, 2));
        sumi = _mm256_add_epi32(sumi, ScaledDot(q, x + 128 * h + 32 * k, PairScales(sc, 4 * h + k)));
      }
    }
    return AddScaled(_mm256_sub_epi32(sumi, offset), LoadHalf(w + 108) * dx, acc);
  }
};

struct KQ2 {
  static constexpr size_t kBytes = kQ2_KBlockBytes;  // scales[16], qs[64], d, dmin
  static constexpr bool kFold = false;
  HWY_INLINE static void Decode(const uint8_t* w, Decoded& D) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const Scales16 sc = WidenScales<false>(_mm_and_si128(packed, low4));
    D.offsets = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low4));
    const __m256i low2 = _mm256_set1_epi8(3);
    LMFORGE_KQ_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i qs = Load32(w + 16 + 32 * h);
      LMFORGE_KQ_UNROLL
      for (int k = 0; k < 4; ++k) {
        D.codes[4 * h + k] = _mm256_and_si256(k == 0 ? qs : _mm256_srli_epi16(qs, 2 * k), low2);
        D.scales[4 * h + k] = PairScales(sc, 4 * h + k);
      }
    }
    D.d = LoadHalf(w + 80);
    D.dmin = LoadHalf(w + 82);
  }
  HWY_INLINE static VF Dot(const uint8_t* w, const int8_t* x, float dx, const int16_t* sums, VF acc) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const Scales16 sc = WidenScales<false>(_mm_and_si128(packed, low4));
    const __m128i mins = _mm_and_si128(_mm_srli_epi16(packed, 4), low4);
    const __m256i summ = _mm256_madd_epi16(_mm256_cvtepu8_epi16(mins), Load32(sums));
    const __m256i low2 = _mm256_set1_epi8(3);
    __m256i sumi = _mm256_setzero_si256();
    LMFORGE_KQ_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m256i qs = Load32(w + 16 + 32 * h);
      LMFORGE_KQ_UNROLL
      for (int k = 0; k < 4; ++k) {
        const __m256i q = _mm256_and_si256(k == 0 ? qs : _mm256_srli_epi16(qs, 2 * k), low2);
        sumi = _mm256_add_epi32(sumi, ScaledDot(q, x + 128 * h + 32 * k, PairScales(sc, 4 * h + k)));
      }
    }
    acc = AddScaled(sumi, LoadHalf(w + 80) * dx, acc);
    return AddScaled(summ, -(LoadHalf(w + 82) * dx), acc);
  }
};

HWY_INLINE VF Zero() { return _mm256_setzero_ps(); }
HWY_INLINE float Total(VF v) {
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

template <DType T>
struct KernelOf;
template <>
struct KernelOf<DType::Q2_K> {
  using type = KQ2;
};
template <>
struct KernelOf<DType::Q3_K> {
  using type = KQ3;
};
template <>
struct KernelOf<DType::Q4_K> {
  using type = KQ4;
};
template <>
struct KernelOf<DType::Q5_K> {
  using type = KQ5;
};
template <>
struct KernelOf<DType::Q6_K> {
  using type = KQ6;
};

#else  // portable path: decode to int8, 16-code dots through 16-bit lanes

using VF = float;

HWY_INLINE int32_t DotGroup(const int8_t* a, const int8_t* b) {
  const hn::CappedTag<int16_t, 8> d16;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const hn::RepartitionToWide<decltype(d16)> d32;
  const size_t N = hn::Lanes(d16);
  auto s0 = hn::Zero(d32), s1 = hn::Zero(d32);
  for (size_t j = 0; j < kSumGroup; j += N) {
    const auto va = hn::PromoteTo(d16, hn::LoadU(d8, a + j));
    const auto vb = hn::PromoteTo(d16, hn::LoadU(d8, b + j));
    s0 = hn::ReorderWidenMulAccumulate(d32, va, vb, s0, s1);
  }
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(s0, s1)));
}

template <DType T>
struct PortableK {
  static constexpr size_t kBytes = T == DType::Q2_K   ? kQ2_KBlockBytes
                                   : T == DType::Q3_K ? kQ3_KBlockBytes
                                   : T == DType::Q4_K ? kQ4_KBlockBytes
                                   : T == DType::Q5_K ? kQ5_KBlockBytes
                                                      : kQ6_KBlockBytes;
  static VF Dot(const uint8_t* w, const int8_t* x, float dx, const int16_t* sums, VF acc) {
    KQuantBlock blk;
    decode_kquant_block(T, w, blk);
    int32_t sumi = 0, summ = 0;
    for (size_t g = 0; g < kSuperBlock / kSumGroup; ++g) {
      sumi += blk.scale[g] * DotGroup(blk.q + g * kSumGroup, x + g * kSumGroup);
      summ += blk.min[g] * sums[g];
    }
    return acc + dx * (blk.d * static_cast<float>(sumi) - blk.dmin * static_cast<float>(summ));
  }
};

template <DType T>
struct KernelOf {
  using type = PortableK<T>;
};

HWY_INLINE VF Zero() { return 0.0f; }
HWY_INLINE float Total(VF v) { return v; }

#endif  // LMFORGE_KQ_X86

// ------------------------------------------------------------------------------------------
// Tiles and the loop nest.

// y[t + j][r + i] for i < RM, j < RN over every super-block of the rows.
template <class K, size_t RM, size_t RN>
HWY_NOINLINE void KTile(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y, size_t ldy) {
  const uint64_t nk = w.cols / kSuperBlock;
  const uint8_t* wr[RM];
  LMFORGE_KQ_UNROLL
  for (size_t i = 0; i < RM; ++i) wr[i] = w.row(r + i);
  VF acc[RM][RN];
  LMFORGE_KQ_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_KQ_UNROLL
    for (size_t j = 0; j < RN; ++j) acc[i][j] = Zero();
  }
  // The next tile's rows follow these in the file: fetch them a little at each super-block
  // (the hardware prefetcher restarts on every short row).
  const uint8_t* next = w.row(r + RM);
  for (uint64_t b = 0; b < nk; ++b) {
    const uint8_t* ahead = next + b * RM * K::kBytes;
    LMFORGE_KQ_UNROLL
    for (size_t p = 0; p < (RM * K::kBytes + 63) / 64; ++p) hwy::Prefetch(ahead + 64 * p);
#if LMFORGE_KQ_X86
    if constexpr (RN > 1) {
      // Several tokens: unpack each row's super-block once, then only multiply-adds per token.
      Decoded dec[RM];
      LMFORGE_KQ_UNROLL
      for (size_t i = 0; i < RM; ++i) K::Decode(wr[i] + b * K::kBytes, dec[i]);
      LMFORGE_KQ_UNROLL
      for (size_t j = 0; j < RN; ++j) {
        const int8_t* xq = x.quants(t + j) + b * kSuperBlock;
        const float dx = x.block_scales(t + j)[b];
        const int16_t* xs = x.group_sums(t + j) + b * (kSuperBlock / kSumGroup);
        LMFORGE_KQ_UNROLL
        for (size_t i = 0; i < RM; ++i) acc[i][j] = DotDecoded<K::kFold>(dec[i], xq, dx, xs, acc[i][j]);
      }
      continue;
    }
#endif
    LMFORGE_KQ_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const int8_t* xq = x.quants(t + j) + b * kSuperBlock;
      const float dx = x.block_scales(t + j)[b];
      const int16_t* xs = x.group_sums(t + j) + b * (kSuperBlock / kSumGroup);
      LMFORGE_KQ_UNROLL
      for (size_t i = 0; i < RM; ++i) acc[i][j] = K::Dot(wr[i] + b * K::kBytes, xq, dx, xs, acc[i][j]);
    }
  }
  LMFORGE_KQ_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_KQ_UNROLL
    for (size_t j = 0; j < RN; ++j) y[(t + j) * ldy + r + i] = Total(acc[i][j]);
  }
}

// Token blocks sized for L2, then RM weight rows (in L1 while the block's tokens pass them),
// then RN tokens; leftovers with 1-row / 1-token tiles.
template <class K, size_t RM, size_t RN>
void KTiles(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  const size_t n = x.n();
  size_t tb = (size_t{256} << 10) / (x.row_bytes() + 1);
  tb = tb < RN ? RN : tb / RN * RN;
  for (size_t t0 = 0; t0 < n; t0 += tb) {
    const size_t t1 = t0 + tb < n ? t0 + tb : n;
    uint64_t r = r0;
    for (; r + RM <= r1; r += RM) {
      size_t t = t0;
      for (; t + RN <= t1; t += RN) KTile<K, RM, RN>(w, r, x, t, y, ldy);
      for (; t < t1; ++t) KTile<K, RM, 1>(w, r, x, t, y, ldy);
    }
    for (; r < r1; ++r) {
      size_t t = t0;
      for (; t + RN <= t1; t += RN) KTile<K, 1, RN>(w, r, x, t, y, ldy);
      for (; t < t1; ++t) KTile<K, 1, 1>(w, r, x, t, y, ldy);
    }
  }
}

// Generation (fewer tokens than a prompt tile): 4 x 1, four weight rows in flight. Prompts: 2 x 4
// (8 accumulators beside a super-block's temporaries in 16 registers; 4 x 4 with AVX-512's 32).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr size_t kKRM = 4, kKRN = 4;
#else
constexpr size_t kKRM = 2, kKRN = 4;
#endif

template <DType T>
void KProduct(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  using K = typename KernelOf<T>::type;
  if (x.n() < kKRN) {
    KTiles<K, 4, 1>(w, x, y, ldy, r0, r1);
  } else {
    KTiles<K, kKRM, kKRN>(w, x, y, ldy, r0, r1);
  }
}

void MatmulK(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (r0 >= r1 || x.n() == 0) return;
  switch (w.type) {
    case DType::Q2_K: KProduct<DType::Q2_K>(w, x, y, ldy, r0, r1); break;
    case DType::Q3_K: KProduct<DType::Q3_K>(w, x, y, ldy, r0, r1); break;
    case DType::Q4_K: KProduct<DType::Q4_K>(w, x, y, ldy, r0, r1); break;
    case DType::Q5_K: KProduct<DType::Q5_K>(w, x, y, ldy, r0, r1); break;
    case DType::Q6_K: KProduct<DType::Q6_K>(w, x, y, ldy, r0, r1); break;
    default: break;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(PackRowsK);
HWY_EXPORT(MatmulK);

void pack_rows_kquant(PackedActivations& p, const float* x, size_t ldx, size_t t0, size_t t1) {
  HWY_DYNAMIC_DISPATCH(PackRowsK)(p, x, ldx, t0, t1);
}

void matmul_packed_kquant(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                          uint64_t r1) {
  HWY_DYNAMIC_DISPATCH(MatmulK)(w, x, y, ldy, r0, r1);
}

}  // namespace lmforge
#endif  // HWY_ONCE
