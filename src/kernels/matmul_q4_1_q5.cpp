// Highway kernels for Q4_1, Q5_0 and Q5_1 weights against 8-bit activation blocks (the
// formulas are in kernels/matmul_q4_1_q5.h), compiled once per SIMD target (foreach_target.h)
// and picked at run time (HWY_DYNAMIC_DISPATCH).
//
// The three formats differ only in where a block keeps its fields and whether codes have a
// fifth bit, an offset (Q5_0: 16) or a minimum (Q4_1, Q5_1); a Format struct per type says
// which, and one tile template serves all three, in the loop nest of tile_loop-inl.h (RM
// weight rows times RN activation rows per tile; generation on AVX-512: 8 x 1 tiles of rows
// far apart, RunGenerationStreams). On x86 (AVX2, AVX-512)
// a block's 32 codes (0..15 or 0..31) fill one 256-bit register and meet the activation bytes
// in vpmaddubsw (unsigned x signed; |pair| <= 2 * 31 * 127 < 2^15, never saturating), then
// vpmaddwd into 32-bit lanes (Highway 1.0 builds no AVX-512 VNNI target by default, so no
// vpdpbusd). Q5_0's "-16"
// is subtracted the same way as Q4_0's "-8" in matmul.cpp: 16 * the pair sums of the
// activation bytes, computed once per activation block and shared by the RM weight rows. The
// minimum term m_w d_x s is one more vector multiply-add per (row, token, block), in lane 0 of
// the accumulator (the other lanes add 0); for these two types
// the packed activations carry d_x s itself, rounded to fp16 as llama.cpp's Q8_1 activations do.
// So do these: which one takes the fp16 rounding moves the fixtures' probabilities by
// up to 5e-2, while matching it leaves them within 1e-5 of llama.cpp's. Other targets
// decode blocks to signed bytes and use the portable DotBlock.

#include <cstring>

#include "core/half.h"
#include "kernels/matmul_q4_1_q5.h"
#include "quant/ggml_blocks.h"
#include "quant/q5.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matmul_q4_1_q5.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/dot_block-inl.h"  // DotBlock, per target
#include "kernels/tile_loop-inl.h"  // KRange, RunTiles, per target

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {

// Redefined for each target pass of foreach_target.h.
#undef LMFORGE_Q15_X86
#undef LMFORGE_Q15_AVX512
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define LMFORGE_Q15_X86 1
#else
#define LMFORGE_Q15_X86 0
#endif
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define LMFORGE_Q15_AVX512 1  // AVX512BW + VL: byte masks
#else
#define LMFORGE_Q15_AVX512 0
#endif

// The micro-tile loops over RM and RN must be fully unrolled so that the accumulators live in
// registers; GCC -O2 does not do it by itself for nested loops.
#ifndef LMFORGE_Q15_UNROLL
#define LMFORGE_Q15_UNROLL _Pragma("GCC unroll 16")
#endif

// Where a block keeps its fields (byte offsets; -1: absent) and what its codes mean.
struct FormatQ4_1 {
  static constexpr size_t kBlockBytes = kQ4_1BlockBytes;
  static constexpr int kMin = 2;   // f16 m after d
  static constexpr int kHigh = -1;  // no fifth bit
  static constexpr size_t kCodes = 4;
  static constexpr int kOffset = 0;
};
struct FormatQ5_0 {
  static constexpr size_t kBlockBytes = kQ5_0BlockBytes;
  static constexpr int kMin = -1;
  static constexpr int kHigh = 2;  // uint32 qh after d
  static constexpr size_t kCodes = 6;
  static constexpr int kOffset = 16;
};
struct FormatQ5_1 {
  static constexpr size_t kBlockBytes = kQ5_1BlockBytes;
  static constexpr int kMin = 2;
  static constexpr int kHigh = 4;  // uint32 qh after d and m
  static constexpr size_t kCodes = 8;
  static constexpr int kOffset = 0;
};

HWY_INLINE float HalfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

HWY_INLINE uint32_t HighBitsAt(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian in the file, as every target of this build
  return v;
}

#if LMFORGE_Q15_X86

// The block's 32 codes as unsigned bytes, element j in byte j.
template <class F>
HWY_INLINE __m256i DecodeCodes(const uint8_t* blk) {
  // The 16 nibble bytes in both halves, the upper half shifted down a nibble: low nibbles are
  // elements 0..15, high nibbles 16..31.
  const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + F::kCodes)));
  const __m256i mixed = _mm256_blend_epi32(both, _mm256_srli_epi16(both, 4), 0xF0);
  __m256i codes = _mm256_and_si256(mixed, _mm256_set1_epi8(0x0F));
  if constexpr (F::kHigh >= 0) {
    const uint32_t qh = HighBitsAt(blk + F::kHigh);
#if LMFORGE_Q15_AVX512
    // Bit j of qh selects byte j directly.
    codes = _mm256_or_si256(codes, _mm256_maskz_mov_epi8(static_cast<__mmask32>(qh), _mm256_set1_epi8(0x10)));
#else
    // Byte j gets qh's byte j / 8, keeps bit j % 8, and becomes 0x10 where that bit is set.
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(qh)),
                                               _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202,
                                                                  0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    codes = _mm256_or_si256(codes, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
#endif
  }
  return codes;
}

// 8 partial sums of codes x activation bytes in 32-bit lanes (exact).
HWY_INLINE __m256i DotLanes(__m256i codes, __m256i act) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(codes, act), _mm256_set1_epi16(1));
}

// Rows r + i * stride (i < RM): stride 1 is a block of adjacent rows; generation passes rows
// far apart, so that the RM rows are RM separate streams for the hardware prefetchers.
template <class F, size_t RM, size_t RN>
HWY_NOINLINE void Tile(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y, size_t ldy,
                       const KRange& k, uint64_t stride = 1) {
  constexpr bool kHasMin = F::kMin >= 0;
  const uint8_t* wr[RM];
  const int8_t* xq[RN];
  const float* xd[RN];
  const float* xs[RN];
  LMFORGE_Q15_UNROLL
  for (size_t i = 0; i < RM; ++i) wr[i] = w.row(r + i * stride);
  LMFORGE_Q15_UNROLL
  for (size_t j = 0; j < RN; ++j) {
    xq[j] = x.quants(t + j);
    xd[j] = x.block_scales(t + j);
    xs[j] = x.block_sums(t + j);
  }
  __m256 acc[RM][RN];
  LMFORGE_Q15_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_Q15_UNROLL
    for (size_t j = 0; j < RN; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  // GGUF rows are contiguous and short, so the hardware prefetcher keeps restarting; fetch the
  // next tile's rows (the RM rows after these) a little at each block instead; strided rows:
  // each stream's next row.
  const uint8_t* next = w.row(r + RM);
  for (uint64_t b = k.c0 / kQK; b < k.c1 / kQK; ++b) {
    if (stride == 1) {
      const uint8_t* ahead = next + b * RM * F::kBlockBytes;
      LMFORGE_Q15_UNROLL
      for (size_t p = 0; p < (RM * F::kBlockBytes + 63) / 64; ++p) hwy::Prefetch(ahead + 64 * p);
    } else {
      LMFORGE_Q15_UNROLL
      for (size_t i = 0; i < RM; ++i) hwy::Prefetch(wr[i] + w.row_bytes + b * F::kBlockBytes);
    }
    __m256i codes[RM];
    __m256 dw[RM];  // the weight blocks' scales, in every lane
    [[maybe_unused]] __m256 mw[RM];  // their minimums, in every lane
    LMFORGE_Q15_UNROLL
    for (size_t i = 0; i < RM; ++i) {
      const uint8_t* blk = wr[i] + b * F::kBlockBytes;
      codes[i] = DecodeCodes<F>(blk);
      if constexpr (kHasMin) {
        // d and m are adjacent fp16s: one F16C conversion (every x86 target of this path has
        // it), then each broadcast.
        int32_t dm;
        std::memcpy(&dm, blk, 4);
        const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128(dm));
        dw[i] = _mm256_broadcastss_ps(both);
        mw[i] = _mm256_broadcastss_ps(_mm_movehdup_ps(both));
      } else {
        int16_t h;
        std::memcpy(&h, blk, 2);
        dw[i] = _mm256_cvtph_ps(_mm_set1_epi16(h));
      }
    }
    LMFORGE_Q15_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const __m256i act = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq[j] + b * kQK));
      const __m256 dx = _mm256_broadcast_ss(xd[j] + b);
      __m256i offset = _mm256_setzero_si256();
      if constexpr (F::kOffset != 0) offset = DotLanes(_mm256_set1_epi8(F::kOffset), act);
      // The minimum term m_w (d_x s) rides in lane 0 of the accumulator: d_x s (already scaled,
      // PackedActivations::scaled_sums) in lane 0 of a vector that is 0 elsewhere.
      [[maybe_unused]] __m256 dxs;
      if constexpr (kHasMin) dxs = _mm256_zextps128_ps256(_mm_load_ss(xs[j] + b));
      LMFORGE_Q15_UNROLL
      for (size_t i = 0; i < RM; ++i) {
        __m256i lanes = DotLanes(codes[i], act);
        if constexpr (F::kOffset != 0) lanes = _mm256_sub_epi32(lanes, offset);
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_mul_ps(dw[i], dx), acc[i][j]);
        if constexpr (kHasMin) acc[i][j] = _mm256_fmadd_ps(mw[i], dxs, acc[i][j]);
      }
    }
  }
  LMFORGE_Q15_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_Q15_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]), _mm256_extractf128_ps(acc[i][j], 1));
      const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
      const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
      const float v = _mm_cvtss_f32(s1);
      float& out = y[(t + j) * ldy + r + i * stride];
      out = k.accumulate ? out + v : v;
    }
  }
}

#else  // portable Highway path

// The block's 32 codes minus the format's offset, as signed bytes (-16..31).
template <class F>
void DecodeCodes(const uint8_t* blk, int8_t* out) {
  uint32_t qh = 0;
  if constexpr (F::kHigh >= 0) qh = HighBitsAt(blk + F::kHigh);
  const uint8_t* qs = blk + F::kCodes;
  for (size_t j = 0; j < kQK / 2; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + kQK / 2)) & 1u) << 4);
    out[j] = static_cast<int8_t>(lo - F::kOffset);
    out[j + kQK / 2] = static_cast<int8_t>(hi - F::kOffset);
  }
}

template <class F, size_t RM, size_t RN>
HWY_NOINLINE void Tile(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y, size_t ldy,
                       const KRange& k) {
  constexpr bool kHasMin = F::kMin >= 0;
  float acc[RM][RN] = {};
  alignas(64) int8_t codes[RM][kQK];
  for (uint64_t b = k.c0 / kQK; b < k.c1 / kQK; ++b) {
    float dw[RM], mw[RM] = {};
    LMFORGE_Q15_UNROLL
    for (size_t i = 0; i < RM; ++i) {
      const uint8_t* blk = w.row(r + i) + b * F::kBlockBytes;
      DecodeCodes<F>(blk, codes[i]);
      dw[i] = HalfAt(blk);
      if constexpr (kHasMin) mw[i] = HalfAt(blk + F::kMin);
    }
    LMFORGE_Q15_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const int8_t* xq = x.quants(t + j) + b * kQK;
      const float dx = x.block_scales(t + j)[b];
      const float dxs = kHasMin ? x.block_sums(t + j)[b] : 0.0f;  // d_x s already (scaled_sums)
      LMFORGE_Q15_UNROLL
      for (size_t i = 0; i < RM; ++i) {
        acc[i][j] += (dw[i] * dx) * static_cast<float>(DotBlock(codes[i], xq));
        if constexpr (kHasMin) acc[i][j] += mw[i] * dxs;
      }
    }
  }
  LMFORGE_Q15_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_Q15_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      float& out = y[(t + j) * ldy + r + i];
      out = k.accumulate ? out + acc[i][j] : acc[i][j];
    }
  }
}

#endif  // LMFORGE_Q15_X86

template <class F>
struct Tiles {
  template <size_t RM, size_t RN>
  struct T {
    static void Run(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y, size_t ldy,
                    const KRange& k) {
      Tile<F, RM, RN>(w, r, x, t, y, ldy, k);
    }
  };
};

// Tile shapes as for Q4_0 in matmul.cpp: generation 4 x 1 (four weight rows in flight) where
// RunGenerationStreams does not apply;
// prompts 4 x 2 with AVX2's 16 registers, 4 x 4 with AVX-512's 32.
#if LMFORGE_Q15_AVX512
constexpr size_t kRM = 4, kRN = 4;
#else
constexpr size_t kRM = 4, kRN = 2;
#endif

#if LMFORGE_Q15_AVX512  // measured there only; AVX2 (tuned on Zen 3) keeps its 4 x 1 tiles
#ifndef LMFORGE_Q15_GEN_STREAMS
#define LMFORGE_Q15_GEN_STREAMS 8
#endif
// Generation: the row range in kS equal parts, one row of each per tile (rows h apart), so that
// a core reads kS distant places at once rather than one run of adjacent rows; the remainder
// rows one at a time. One thread, 640 MB of weights (bench/kernels_bench gen_stream, CPU time,
// Sapphire Rapids VM): 70-80 ms per pass with 4 adjacent rows, 54-56 with 4 streams, 49-54
// with 8 (Q4_1, Q5_0, Q5_1).
template <class F>
void RunGenerationStreams(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                          uint64_t r1) {
  constexpr size_t kS = LMFORGE_Q15_GEN_STREAMS;
  const KRange k{0, w.cols, false};
  const uint64_t h = (r1 - r0) / kS;
  for (size_t t = 0; t < x.n(); ++t) {
    for (uint64_t i = 0; i < h; ++i) Tile<F, kS, 1>(w, r0 + i, x, t, y, ldy, k, h);
    for (uint64_t r = r0 + kS * h; r < r1; ++r) Tile<F, 1, 1>(w, r, x, t, y, ldy, k);
  }
}
#endif

template <class F>
void Run(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
#if LMFORGE_Q15_AVX512
  if (x.n() == 1) {
    RunGenerationStreams<F>(w, x, y, ldy, r0, r1);
    return;
  }
#endif
  if (x.n() < kRN) {
    RunTiles<4, 1, Tiles<F>::template T>(w, x, y, ldy, r0, r1);
  } else {
    RunTiles<kRM, kRN, Tiles<F>::template T>(w, x, y, ldy, r0, r1);
  }
}

void MatmulQ41Q5(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (r0 >= r1 || x.n() == 0) return;
  switch (w.type) {
    case DType::Q4_1: Run<FormatQ4_1>(w, x, y, ldy, r0, r1); break;
    case DType::Q5_0: Run<FormatQ5_0>(w, x, y, ldy, r0, r1); break;
    case DType::Q5_1: Run<FormatQ5_1>(w, x, y, ldy, r0, r1); break;
    default: break;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(MatmulQ41Q5);

void matmul_packed_q4_1_q5(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                           uint64_t r1) {
  HWY_DYNAMIC_DISPATCH(MatmulQ41Q5)(w, x, y, ldy, r0, r1);
}

}  // namespace lmforge
#endif  // HWY_ONCE
