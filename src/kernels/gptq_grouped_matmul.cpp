// Highway kernels for the grouped GPTQ 4-bit form (kernels/gptq_grouped.h), compiled once per
// SIMD target and picked at run time; matmul_gptq_grouped_scalar (gptq_grouped.cpp) is the twin.
//
// On x86 (AVX2, AVX-512) a tile is one row group (8 weight rows) times RN activation rows, as
// in interleaved_matmul.cpp: a block's 128 code bytes are split into low and high nibbles once
// (8 registers) and used for every token of the tile; 4 activation bytes broadcast to every
// 32-bit lane and vpmaddubsw leave row i's partial sums in lane i. Codes 0..15 times
// activations |q| <= 127 give pair sums <= 3810, so the 8 products of a block add up in 16-bit
// lanes (<= 30480) before one vpmaddwd. Per block the 8 integer sums become floats and are
// accumulated times the activation block's scale (one FMA); per group the 8 rows' scales and
// zero points are applied once: acc += s * (group - z * X_g).
// Other targets use a portable path, row by row through DotBlock.

#include <cstring>
#include <vector>

#include "kernels/gptq_grouped.h"
#include "quant/ggml_blocks.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gptq_grouped_matmul.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/dot_block-inl.h"  // DotBlock, per target

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {

// Redefined for each target pass of foreach_target.h.
#undef LMFORGE_X86_GPTQ_GROUPED
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define LMFORGE_X86_GPTQ_GROUPED 1
#else
#define LMFORGE_X86_GPTQ_GROUPED 0
#endif

#ifndef LMFORGE_GG_UNROLL
#define LMFORGE_GG_UNROLL _Pragma("GCC unroll 16")
#endif

using Grouped = GptqGroupedMatrix;

#if LMFORGE_X86_GPTQ_GROUPED

constexpr uint64_t kRows = Grouped::kGroupRows;

// Generation streams the thread's row groups as one contiguous run; the hardware prefetcher
// alone keeps too few lines in flight (as for the interleaved Q4_0 kernel), so every line is
// fetched this far ahead.
#ifndef LMFORGE_GG_PREFETCH
#define LMFORGE_GG_PREFETCH 4096
#endif
constexpr size_t kPrefetchBytes = LMFORGE_GG_PREFETCH;

// 4 activation bytes in every 32-bit lane.
HWY_INLINE __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

struct Codes {
  __m256i lo[4];  // elements 4k .. 4k+3 of each row
  __m256i hi[4];  // elements 16+4k .. 16+4k+3
};

HWY_INLINE void Decode(const uint8_t* blk, Codes& c) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  LMFORGE_GG_UNROLL
  for (size_t k = 0; k < 4; ++k) {
    const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(blk + 32 * k));
    c.lo[k] = _mm256_and_si256(raw, mask);
    c.hi[k] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
  }
}

// A block's 32 activation bytes, 4 at a time in every lane: xb[k] elements 4k .. 4k+3 (the low
// nibbles' inputs), xb[4 + k] elements 16+4k .. (the high nibbles').
struct Broadcasts {
  __m256i xb[8];
};

HWY_INLINE Broadcasts BroadcastBlock(const int8_t* xq) {
  Broadcasts b;
  LMFORGE_GG_UNROLL
  for (size_t k = 0; k < 4; ++k) {
    b.xb[k] = Broadcast4(xq + 4 * k);
    b.xb[4 + k] = Broadcast4(xq + 16 + 4 * k);
  }
  return b;
}

// The 8 rows' sums of code * q over one block, as floats (exact).
HWY_INLINE __m256 IntDot(const Codes& c, const Broadcasts& x) {
  __m256i s = _mm256_maddubs_epi16(c.lo[0], x.xb[0]);
  LMFORGE_GG_UNROLL
  for (size_t k = 1; k < 4; ++k) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(c.lo[k], x.xb[k]));
  LMFORGE_GG_UNROLL
  for (size_t k = 0; k < 4; ++k) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(c.hi[k], x.xb[4 + k]));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(s, _mm256_set1_epi16(1)));
}

// Stores a row group's 8 results for one token, only its rows inside [r0, r1).
HWY_INLINE void StoreRowGroup(__m256 v8, uint64_t rg, float* out, uint64_t r0, uint64_t r1) {
  const uint64_t row0 = rg * kRows;
  if (row0 >= r0 && row0 + kRows <= r1) {
    _mm256_storeu_ps(out + row0, v8);
    return;
  }
  alignas(32) float v[kRows];
  _mm256_store_ps(v, v8);
  for (uint64_t i = 0; i < kRows; ++i)
    if (row0 + i >= r0 && row0 + i < r1) out[row0 + i] = v[i];
}

// y[t + j][8 rg + i] for j < RN and the rows 8 rg + i inside [r0, r1); sums[t * G + g] = X_g.
template <size_t RN>
HWY_NOINLINE void RowGroupTile(const Grouped& w, uint64_t rg, const PackedActivations& x, const float* sums,
                               size_t t, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  const size_t G = w.groups();
  const uint64_t bpg = w.blocks_per_group();
  const int8_t* xq[RN];
  const float* xd[RN];
  const float* xs[RN];
  __m256 acc[RN];
  LMFORGE_GG_UNROLL
  for (size_t j = 0; j < RN; ++j) {
    xq[j] = x.quants(t + j);
    xd[j] = x.block_scales(t + j);
    xs[j] = sums + (t + j) * G;
    acc[j] = _mm256_setzero_ps();
  }
  const uint8_t* prm = w.params(rg);
  const uint8_t* blk = w.blocks(rg);
  uint64_t b = 0;
  for (size_t g = 0; g < G; ++g, prm += Grouped::kParamBytes) {
    __m256 part[RN];
    LMFORGE_GG_UNROLL
    for (size_t j = 0; j < RN; ++j) part[j] = _mm256_setzero_ps();
    for (const uint64_t end = b + bpg; b < end; ++b, blk += Grouped::kBlockBytes) {
      if (RN == 1) {
        hwy::Prefetch(blk + kPrefetchBytes);
        hwy::Prefetch(blk + kPrefetchBytes + 64);
      }
      Codes c;
      Decode(blk, c);
      LMFORGE_GG_UNROLL
      for (size_t j = 0; j < RN; ++j)
        part[j] = _mm256_fmadd_ps(IntDot(c, BroadcastBlock(xq[j] + b * kQK)), _mm256_broadcast_ss(xd[j] + b), part[j]);
    }
    const __m256 s = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(prm)));
    const __m256 z = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(prm + 2 * kRows))));
    LMFORGE_GG_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      acc[j] = _mm256_fmadd_ps(s, _mm256_fnmadd_ps(z, _mm256_broadcast_ss(xs[j] + g), part[j]), acc[j]);
    }
  }
  LMFORGE_GG_UNROLL
  for (size_t j = 0; j < RN; ++j) StoreRowGroup(acc[j], rg, y + (t + j) * ldy, r0, r1);
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// Generation on AVX-512 hosts: one token against S row groups far apart in the thread's range,
// block by block in lock-step. One contiguous run is one stream for the hardware prefetchers,
// which on the Sapphire Rapids host keeps a core well under its bandwidth; S runs (plus a
// software prefetch a few lines ahead in each) keep more lines in flight, as the interleaved
// Q4_0 kernel does (interleaved_matmul.cpp). The activation bytes of a block are broadcast once
// for all S row groups. Same arithmetic, in the same order per row, as RowGroupTile<1>.
#ifndef LMFORGE_GG_STREAMS
#define LMFORGE_GG_STREAMS 8
#endif
constexpr size_t kStreams = LMFORGE_GG_STREAMS;
#ifndef LMFORGE_GG_STREAM_PREFETCH
#define LMFORGE_GG_STREAM_PREFETCH 512
#endif
constexpr size_t kStreamPrefetch = LMFORGE_GG_STREAM_PREFETCH;

// The row groups rgs[0 .. ns) (ns <= kStreams), token t.
HWY_NOINLINE void RowGroupStreams(const Grouped& w, const uint64_t* rgs, size_t ns, const PackedActivations& x,
                                  const float* sums, size_t t, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  const size_t G = w.groups();
  const uint64_t bpg = w.blocks_per_group();
  const int8_t* xq = x.quants(t);
  const float* xd = x.block_scales(t);
  const float* xs = sums + t * G;
  const uint8_t* prm[kStreams];
  const uint8_t* blk[kStreams];
  __m256 acc[kStreams];
  for (size_t k = 0; k < kStreams; ++k) {
    const uint64_t rg = rgs[k < ns ? k : 0];  // missing streams repeat the first (not stored)
    prm[k] = w.params(rg);
    blk[k] = w.blocks(rg);
    acc[k] = _mm256_setzero_ps();
  }
  uint64_t b = 0;
  for (size_t g = 0; g < G; ++g) {
    __m256 part[kStreams];
    LMFORGE_GG_UNROLL
    for (size_t k = 0; k < kStreams; ++k) part[k] = _mm256_setzero_ps();
    for (const uint64_t end = b + bpg; b < end; ++b) {
      const Broadcasts xb = BroadcastBlock(xq + b * kQK);
      const __m256 d = _mm256_broadcast_ss(xd + b);
      LMFORGE_GG_UNROLL
      for (size_t k = 0; k < kStreams; ++k) {
        hwy::Prefetch(blk[k] + kStreamPrefetch);
        hwy::Prefetch(blk[k] + kStreamPrefetch + 64);
        Codes c;
        Decode(blk[k], c);
        part[k] = _mm256_fmadd_ps(IntDot(c, xb), d, part[k]);
        blk[k] += Grouped::kBlockBytes;
      }
    }
    const __m256 xg = _mm256_broadcast_ss(xs + g);
    LMFORGE_GG_UNROLL
    for (size_t k = 0; k < kStreams; ++k) {
      const __m256 sc = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(prm[k])));
      const __m256 z =
          _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(prm[k] + 2 * kRows))));
      acc[k] = _mm256_fmadd_ps(sc, _mm256_fnmadd_ps(z, xg, part[k]), acc[k]);
      prm[k] += Grouped::kParamBytes;
    }
  }
  for (size_t k = 0; k < ns; ++k) StoreRowGroup(acc[k], rgs[k], y + t * ldy, r0, r1);
}

// One token over row groups [rg0, rg1): the range cut into kStreams parts walked side by side.
void GenerateStreams(const Grouped& w, const PackedActivations& x, const float* sums, size_t t, float* y,
                     size_t ldy, uint64_t r0, uint64_t r1, uint64_t rg0, uint64_t rg1) {
  const uint64_t len = (rg1 - rg0 + kStreams - 1) / kStreams;
  for (uint64_t i = 0; i < len; ++i) {
    uint64_t rgs[kStreams];
    size_t ns = 0;
    for (size_t k = 0; k < kStreams; ++k) {
      const uint64_t rg = rg0 + k * len + i;
      if (rg < rg1) rgs[ns++] = rg;
    }
    RowGroupStreams(w, rgs, ns, x, sums, t, y, ldy, r0, r1);
  }
}
#endif  // AVX-512

// Activation rows per tile: 8 code registers + 2 RN accumulators + temporaries; AVX-512's 32
// registers hold them all for RN = 4 (AVX2 spills a few, still ahead of RN = 1 for prompts).
#ifndef LMFORGE_GG_TILE_TOKENS
#define LMFORGE_GG_TILE_TOKENS 4
#endif
constexpr size_t kTileTokens = LMFORGE_GG_TILE_TOKENS;

// Token blocks whose activations fit L2, then row groups (one row group, at most ~24 KiB for
// 5632 inputs, stays in L1 while every token of the block passes it), then RN tokens at a time.
void MatmulGptqGrouped(const Grouped& w, const PackedActivations& x, const float* sums, float* y, size_t ldy,
                       uint64_t r0, uint64_t r1) {
  const size_t n = x.n();
  if (r0 >= r1 || n == 0) return;
  const uint64_t rg0 = r0 / kRows, rg1 = (r1 + kRows - 1) / kRows;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if (n == 1) return GenerateStreams(w, x, sums, 0, y, ldy, r0, r1, rg0, rg1);
#endif
  const size_t x_bytes = w.cols() + w.blocks_per_row() * 2 * sizeof(float);  // a token's quants, scales, sums
  size_t tb = (size_t{256} << 10) / x_bytes;
  tb = tb < kTileTokens ? kTileTokens : tb / kTileTokens * kTileTokens;
  for (size_t t0 = 0; t0 < n; t0 += tb) {
    const size_t t1 = t0 + tb < n ? t0 + tb : n;
    for (uint64_t rg = rg0; rg < rg1; ++rg) {
      size_t t = t0;
      for (; t + kTileTokens <= t1; t += kTileTokens) RowGroupTile<kTileTokens>(w, rg, x, sums, t, y, ldy, r0, r1);
      for (; t < t1; ++t) RowGroupTile<1>(w, rg, x, sums, t, y, ldy, r0, r1);
    }
  }
}

#else  // portable Highway path: row by row, each block's codes dotted through 16-bit lanes

void MatmulGptqGrouped(const Grouped& w, const PackedActivations& x, const float* sums, float* y, size_t ldy,
                       uint64_t r0, uint64_t r1) {
  const uint64_t bpg = w.blocks_per_group();
  uint8_t c[kQK];
  alignas(16) int8_t codes[kQK];
  for (size_t t = 0; t < x.n(); ++t) {
    const int8_t* q = x.quants(t);
    const float* d = x.block_scales(t);
    const float* xs = sums + t * w.groups();
    for (uint64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (uint32_t g = 0; g < w.groups(); ++g) {
        float part = 0.0f;
        for (uint64_t b = g * bpg; b < (g + 1) * bpg; ++b) {
          w.block_codes(r, b, c);
          for (size_t j = 0; j < kQK; ++j) codes[j] = static_cast<int8_t>(c[j]);
          part += static_cast<float>(DotBlock(codes, q + b * kQK)) * d[b];
        }
        acc += w.scale(r, g) * (part - static_cast<float>(w.zero(r, g)) * xs[g]);
      }
      y[t * ldy + r] = acc;
    }
  }
}

#endif  // LMFORGE_X86_GPTQ_GROUPED

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(MatmulGptqGrouped);

void matmul_gptq_grouped(const GptqGroupedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                         uint64_t r1) {
  // The group sums are a few floats per token; each thread computes its own copy.
  thread_local std::vector<float> sums;
  sums.resize(x.n() * w.groups());
  for (size_t t = 0; t < x.n(); ++t) gptq_grouped_sums(w, x, t, sums.data() + t * w.groups());
  HWY_DYNAMIC_DISPATCH(MatmulGptqGrouped)(w, x, sums.data(), y, ldy, r0, r1);
}

}  // namespace lmforge
#endif  // HWY_ONCE
