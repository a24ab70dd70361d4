// Highway kernels for interleaved Q8_0 / Q4_0 weights (kernels/interleaved.h), compiled once per
// SIMD target (foreach_target.h) and picked at run time (HWY_DYNAMIC_DISPATCH).
//
// On x86 (AVX2, AVX-512) a tile is one group of 8 weight rows times RN activation rows. Per
// block the group's quants are loaded once (Q4_0: split into low and high nibbles, 8 registers;
// Q8_0: their magnitudes, 8 registers) and used for each of the RN tokens: 4 activation bytes
// are broadcast to every 32-bit lane and multiplied with vpmaddubsw, so lane i accumulates row
// i. Q4_0 nibbles (0..15) times activations (|q| <= 127) give pair sums <= 3810, so all 8
// products of a block add up in 16-bit lanes without overflow (<= 30480) before one vpmaddwd;
// the "-8" offset is one float subtraction of 8 * (the activation block's sum of q) per block.
// Q8_0 uses the sign trick (|w| times x with w's sign, exact even for w = -128) and needs a
// vpmaddwd per chunk. Then 8 lanes are converted, scaled by the 8 rows' d_w times d_x in one
// multiply, and accumulated; the result of a group for a token is 8 adjacent floats of y.
// Other targets use a portable Highway path through 16-bit lanes, row by row.

// Highway 1.0 compiles an AVX-512 VNNI target (AVX3_DL) only on request; dispatch is per
// translation unit, so asking here adds it for these kernels alone (vpdpbusd in generation).
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#include <cstring>

#include "core/half.h"
#include "kernels/interleaved.h"
#include "quant/ggml_blocks.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/interleaved_matmul.cpp"
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
namespace hn = hwy::HWY_NAMESPACE;

// Redefined for each target pass of foreach_target.h.
#undef LMFORGE_X86_INTERLEAVED
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define LMFORGE_X86_INTERLEAVED 1
#else
#define LMFORGE_X86_INTERLEAVED 0
#endif

#ifndef LMFORGE_IL_UNROLL
#define LMFORGE_IL_UNROLL _Pragma("GCC unroll 16")
#endif

constexpr uint64_t kG = InterleavedMatrix::kGroupRows;
[[maybe_unused]] constexpr size_t kScaleBytes = 2 * kG;  // used by the AVX2 kernels only

#if LMFORGE_X86_INTERLEAVED

// Blocks [b0, b1) of a product; with accumulate, tiles add to y (the second and later chunks
// of a cache-blocked product).
struct BRange {
  uint64_t b0;
  uint64_t b1;
  bool accumulate;
};

// 4 activation bytes in every 32-bit lane.
HWY_INLINE __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

struct X86InterleavedQ4 {
  struct Weights {
    __m256i lo[4];  // elements 4k .. 4k+3 of each row, unsigned nibbles
    __m256i hi[4];  // elements 16+4k .. 16+4k+3
  };
  HWY_INLINE static void Decode(const uint8_t* q, Weights& w) {
    const __m256i mask = _mm256_set1_epi8(0x0F);
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 4; ++k) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k));
      w.lo[k] = _mm256_and_si256(raw, mask);
      w.hi[k] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
    }
  }
  // The 8 rows' block dot products with activation block xq (sum q = xs), as floats.
  HWY_INLINE static __m256 Dot(const Weights& w, const uint8_t*, const int8_t* xq, float xs) {
    __m256i s = _mm256_maddubs_epi16(w.lo[0], Broadcast4(xq));
    LMFORGE_IL_UNROLL
    for (size_t k = 1; k < 4; ++k) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w.lo[k], Broadcast4(xq + 4 * k)));
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 4; ++k) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w.hi[k], Broadcast4(xq + 16 + 4 * k)));
    const __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(s, _mm256_set1_epi16(1)));
    return _mm256_fnmadd_ps(_mm256_set1_ps(8.0f), _mm256_set1_ps(xs), f);  // sum n q - 8 sum q, exact
  }
};

struct X86InterleavedQ8 {
  struct Weights {
    __m256i mag[8];  // |w| as unsigned bytes (w = -128 gives 128, still exact)
  };
  HWY_INLINE static void Decode(const uint8_t* q, Weights& w) {
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) {
      w.mag[k] = _mm256_abs_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k)));
    }
  }
  // The sign moves onto the activation (never -128, so negating it is exact): |w| * (x sign w).
  HWY_INLINE static __m256 Dot(const Weights& w, const uint8_t* q, const int8_t* xq, float) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s = _mm256_setzero_si256();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) {
      const __m256i wk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k));
      const __m256i pairs = _mm256_maddubs_epi16(w.mag[k], _mm256_sign_epi8(Broadcast4(xq + 4 * k), wk));
      s = _mm256_add_epi32(s, _mm256_madd_epi16(pairs, ones));
    }
    return _mm256_cvtepi32_ps(s);
  }
};

// Generation streams the thread's groups as one contiguous run; the hardware prefetcher alone
// keeps too few lines in flight for it, so every line is fetched this far ahead.
#ifndef LMFORGE_IL_PREFETCH
#define LMFORGE_IL_PREFETCH 4096
#endif
constexpr size_t kPrefetchBytes = LMFORGE_IL_PREFETCH;


// y[t + j][8g + i] for j < RN and the rows 8g + i inside [r0, r1).
template <class Q, size_t RN>
HWY_NOINLINE void GroupTile(const InterleavedMatrix& w, uint64_t g, const PackedActivations& x, size_t t, float* y,
                            size_t ldy, uint64_t r0, uint64_t r1, const BRange& k) {
  const int8_t* xq[RN];
  const float* xd[RN];
  const float* xs[RN];
  __m256 acc[RN];
  LMFORGE_IL_UNROLL
  for (size_t j = 0; j < RN; ++j) {
    xq[j] = x.quants(t + j);
    xd[j] = x.block_scales(t + j);
    xs[j] = x.block_sums(t + j);
    acc[j] = _mm256_setzero_ps();
  }
  const size_t bytes = w.block_group_bytes();
  const uint8_t* blk = w.block_group(g, k.b0);
  for (uint64_t b = k.b0; b < k.b1; ++b, blk += bytes) {
    if (RN == 1) {
      for (size_t p = 0; p < bytes; p += 64) hwy::Prefetch(blk + kPrefetchBytes + p);
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk)));
    typename Q::Weights wq;
    Q::Decode(blk + kScaleBytes, wq);
    LMFORGE_IL_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const __m256 f = Q::Dot(wq, blk + kScaleBytes, xq[j] + b * kQK, xs[j][b]);
      acc[j] = _mm256_fmadd_ps(f, _mm256_mul_ps(dw, _mm256_broadcast_ss(xd[j] + b)), acc[j]);
    }
  }
  const uint64_t row0 = g * kG;
  const bool whole = row0 >= r0 && row0 + kG <= r1;
  LMFORGE_IL_UNROLL
  for (size_t j = 0; j < RN; ++j) {
    float* out = y + (t + j) * ldy;
    if (whole) {
      const __m256 v = k.accumulate ? _mm256_add_ps(_mm256_loadu_ps(out + row0), acc[j]) : acc[j];
      _mm256_storeu_ps(out + row0, v);
    } else {  // a group cut by the range: only its rows inside [r0, r1)
      alignas(32) float v[kG];
      _mm256_store_ps(v, acc[j]);
      for (uint64_t i = 0; i < kG; ++i) {
        const uint64_t r = row0 + i;
        if (r >= r0 && r < r1) out[r] = k.accumulate ? out[r] + v[i] : v[i];
      }
    }
  }
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL

// Generation on AVX-512 hosts (measured on Sapphire Rapids): one token against S groups at
// once, so that S weight streams are in flight per core instead of one; a single stream,
// even prefetched, leaves the core's bandwidth unused. The 8 activation broadcasts of a block
// are shared by the S groups. With VNNI (AVX3_DL) a 4-byte chunk times 4 activation bytes goes
// straight into 32-bit lanes (vpdpbusd, unsigned x signed): Q4_0's nibbles as they are (its
// "-8" is the 8 * s term, as above), Q8_0's bytes offset by 128 (w + 128 as unsigned; the
// offset is 128 * s, subtracted in float, exact: both are integers below 2^24). Without VNNI
// (AVX3) the vpmaddubsw forms of X86InterleavedQ4 / Q8. The integer block sums, and so y, are
// the same bits as GroupTile's (same products, same order of the float accumulation).

// Streams per core and how far ahead each is fetched. Measured on this Sapphire Rapids VM (one
// thread, 640 MB of weights, bench/kernels_bench gen_stream): Q4_0 8.5 GB/s with the single
// stream of GroupTile, 11.6 / 13.1 / 13.4 GB/s with 4 / 8 / 16 streams (512 bytes ahead),
// 12.0 with 8 streams and no software prefetch; Q8_0 8.7 -> 15.1 with 8 streams.
#ifndef LMFORGE_IL_STREAMS
#define LMFORGE_IL_STREAMS 8
#endif
constexpr size_t kStreams = LMFORGE_IL_STREAMS;
#ifndef LMFORGE_IL_STREAM_PREFETCH
#define LMFORGE_IL_STREAM_PREFETCH 512
#endif
constexpr size_t kStreamPrefetchBytes = LMFORGE_IL_STREAM_PREFETCH;

struct StreamQ4 {
  HWY_INLINE static __m256 Dot(const uint8_t* q, const __m256i* xa, float xs) {
#if HWY_TARGET == HWY_AVX3_DL
    const __m256i mask = _mm256_set1_epi8(0x0F);
    __m256i s = _mm256_setzero_si256();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 4; ++k) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k));
      s = _mm256_dpbusd_epi32(s, _mm256_and_si256(raw, mask), xa[k]);
      s = _mm256_dpbusd_epi32(s, _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask), xa[4 + k]);
    }
    return _mm256_fnmadd_ps(_mm256_set1_ps(8.0f), _mm256_set1_ps(xs), _mm256_cvtepi32_ps(s));
#else
    const __m256i mask = _mm256_set1_epi8(0x0F);
    __m256i s = _mm256_setzero_si256();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 4; ++k) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k));
      s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(raw, mask), xa[k]));
      s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(raw, 4), mask), xa[4 + k]));
    }
    const __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(s, _mm256_set1_epi16(1)));
    return _mm256_fnmadd_ps(_mm256_set1_ps(8.0f), _mm256_set1_ps(xs), f);
#endif
  }
};

struct StreamQ8 {
  HWY_INLINE static __m256 Dot(const uint8_t* q, const __m256i* xa, float xs) {
#if HWY_TARGET == HWY_AVX3_DL
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    __m256i s = _mm256_setzero_si256();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) {
      const __m256i wk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k));
      s = _mm256_dpbusd_epi32(s, _mm256_xor_si256(wk, bias), xa[k]);
    }
    return _mm256_fnmadd_ps(_mm256_set1_ps(128.0f), _mm256_set1_ps(xs), _mm256_cvtepi32_ps(s));
#else
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s = _mm256_setzero_si256();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) {
      const __m256i wk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k));
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(wk), _mm256_sign_epi8(xa[k], wk));
      s = _mm256_add_epi32(s, _mm256_madd_epi16(pairs, ones));
    }
    (void)xs;
    return _mm256_cvtepi32_ps(s);
#endif
  }
};

template <class Q>
struct StreamFor;
template <>
struct StreamFor<X86InterleavedQ4> {
  using type = StreamQ4;
};
template <>
struct StreamFor<X86InterleavedQ8> {
  using type = StreamQ8;
};

// Groups g .. g+S-1, token t.
template <class Q, size_t S>
HWY_NOINLINE void StreamTile(const InterleavedMatrix& w, uint64_t g, const PackedActivations& x, size_t t, float* y,
                             size_t ldy, uint64_t r0, uint64_t r1) {
  using D = typename StreamFor<Q>::type;
  const int8_t* xq = x.quants(t);
  const float* xd = x.block_scales(t);
  const float* xs = x.block_sums(t);
  const size_t bytes = w.block_group_bytes();
  const uint64_t nb = w.blocks_per_row();
  const uint8_t* blk[S];
  __m256 acc[S];
  LMFORGE_IL_UNROLL
  for (size_t s = 0; s < S; ++s) {
    blk[s] = w.group(g + s);
    acc[s] = _mm256_setzero_ps();
  }
  for (uint64_t b = 0; b < nb; ++b, xq += kQK) {
    LMFORGE_IL_UNROLL
    for (size_t s = 0; s < S; ++s) {
      for (size_t p = 0; p < bytes; p += 64) hwy::Prefetch(blk[s] + kStreamPrefetchBytes + p);
    }
    __m256i xa[8];
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) xa[k] = Broadcast4(xq + 4 * k);
    const __m256 dx = _mm256_broadcast_ss(xd + b);
    const float sb = xs[b];
    LMFORGE_IL_UNROLL
    for (size_t s = 0; s < S; ++s) {
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[s])));
      const __m256 f = D::Dot(blk[s] + kScaleBytes, xa, sb);
      acc[s] = _mm256_fmadd_ps(f, _mm256_mul_ps(dw, dx), acc[s]);
      blk[s] += bytes;
    }
  }
  float* out = y + t * ldy;
  LMFORGE_IL_UNROLL
  for (size_t s = 0; s < S; ++s) {
    const uint64_t row0 = (g + s) * kG;
    if (row0 >= r0 && row0 + kG <= r1) {
      _mm256_storeu_ps(out + row0, acc[s]);
    } else {  // a group cut by the range: only its rows inside [r0, r1)
      alignas(32) float v[kG];
      _mm256_store_ps(v, acc[s]);
      for (uint64_t i = 0; i < kG; ++i) {
        const uint64_t r = row0 + i;
        if (r >= r0 && r < r1) out[r] = v[i];
      }
    }
  }
}

// Small batches on AVX-512 hosts: 2 to kSmallBatchMax activation rows (a server's generating
// slots, short prompt chunks). As StreamTile, S groups are streamed at once and fetched ahead,
// but each group's block is decoded once and used for T tokens, so T streams share one pass
// over the weights and one decode. Per (row, token) the products and the order of the float
// accumulation are those of StreamTile and GroupTile, so a token's result is the same bits
// whichever tokens share its product (unlike the column-chunked prompt tiles of RunGroups).
// The decoded forms: with VNNI, StreamQ4 / StreamQ8's vpdpbusd arithmetic on weights decoded
// beforehand; without, X86InterleavedQ4 / Q8, which GroupTile uses.
#if HWY_TARGET == HWY_AVX3_DL
struct VnniQ4 {
  // The nibbles decode as for GroupTile; only the dot product differs.
  using Weights = X86InterleavedQ4::Weights;
  HWY_INLINE static void Decode(const uint8_t* q, Weights& w) { X86InterleavedQ4::Decode(q, w); }
  HWY_INLINE static __m256 Dot(const Weights& w, const uint8_t*, const int8_t* xq, float xs) {
    __m256i s = _mm256_setzero_si256();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 4; ++k) {
      s = _mm256_dpbusd_epi32(s, w.lo[k], Broadcast4(xq + 4 * k));
      s = _mm256_dpbusd_epi32(s, w.hi[k], Broadcast4(xq + 16 + 4 * k));
    }
    return _mm256_fnmadd_ps(_mm256_set1_ps(8.0f), _mm256_set1_ps(xs), _mm256_cvtepi32_ps(s));
  }
};
struct VnniQ8 {
  struct Weights {
    __m256i biased[8];  // w + 128 as unsigned bytes
  };
  HWY_INLINE static void Decode(const uint8_t* q, Weights& w) {
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k)
      w.biased[k] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * k)), bias);
  }
  HWY_INLINE static __m256 Dot(const Weights& w, const uint8_t*, const int8_t* xq, float xs) {
    __m256i s = _mm256_setzero_si256();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) s = _mm256_dpbusd_epi32(s, w.biased[k], Broadcast4(xq + 4 * k));
    return _mm256_fnmadd_ps(_mm256_set1_ps(128.0f), _mm256_set1_ps(xs), _mm256_cvtepi32_ps(s));
  }
};
template <class Q>
struct BatchFor;
template <>
struct BatchFor<X86InterleavedQ4> {
  using type = VnniQ4;
};
template <>
struct BatchFor<X86InterleavedQ8> {
  using type = VnniQ8;
};
#else
template <class Q>
struct BatchFor {
  using type = Q;
};
#endif

// Groups g .. g+S-1, tokens t .. t+T-1.
template <class Q, size_t S, size_t T>
HWY_NOINLINE void BatchStreamTile(const InterleavedMatrix& w, uint64_t g, const PackedActivations& x, size_t t,
                                  float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  using D = typename BatchFor<Q>::type;
  const int8_t* xq[T];
  const float* xd[T];
  const float* xs[T];
  LMFORGE_IL_UNROLL
  for (size_t j = 0; j < T; ++j) {
    xq[j] = x.quants(t + j);
    xd[j] = x.block_scales(t + j);
    xs[j] = x.block_sums(t + j);
  }
  const size_t bytes = w.block_group_bytes();
  const uint64_t nb = w.blocks_per_row();
  const uint8_t* blk[S];
  __m256 acc[S][T];
  LMFORGE_IL_UNROLL
  for (size_t s = 0; s < S; ++s) {
    blk[s] = w.group(g + s);
    LMFORGE_IL_UNROLL
    for (size_t j = 0; j < T; ++j) acc[s][j] = _mm256_setzero_ps();
  }
  for (uint64_t b = 0; b < nb; ++b) {
    LMFORGE_IL_UNROLL
    for (size_t s = 0; s < S; ++s) {
      for (size_t p = 0; p < bytes; p += 64) hwy::Prefetch(blk[s] + kStreamPrefetchBytes + p);
    }
    LMFORGE_IL_UNROLL
    for (size_t s = 0; s < S; ++s) {
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[s])));
      typename D::Weights wq;
      D::Decode(blk[s] + kScaleBytes, wq);
      LMFORGE_IL_UNROLL
      for (size_t j = 0; j < T; ++j) {
        const __m256 f = D::Dot(wq, blk[s] + kScaleBytes, xq[j] + b * kQK, xs[j][b]);
        acc[s][j] = _mm256_fmadd_ps(f, _mm256_mul_ps(dw, _mm256_broadcast_ss(xd[j] + b)), acc[s][j]);
      }
      blk[s] += bytes;
    }
  }
  LMFORGE_IL_UNROLL
  for (size_t j = 0; j < T; ++j) {
    float* out = y + (t + j) * ldy;
    LMFORGE_IL_UNROLL
    for (size_t s = 0; s < S; ++s) {
      const uint64_t row0 = (g + s) * kG;
      if (row0 >= r0 && row0 + kG <= r1) {
        _mm256_storeu_ps(out + row0, acc[s][j]);
      } else {  // a group cut by the range: only its rows inside [r0, r1)
        alignas(32) float v[kG];
        _mm256_store_ps(v, acc[s][j]);
        for (uint64_t i = 0; i < kG; ++i) {
          const uint64_t r = row0 + i;
          if (r >= r0 && r < r1) out[r] = v[i];
        }
      }
    }
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// The same tiles on 512-bit registers: groups g and g+1 side by side in one zmm (their rows
// 8g .. 8g+15 are consecutive in y), so each vpdpbusd, conversion and multiply serves 16 rows
// instead of 8: half the instructions per weight byte, which is what a 4-token step spent its
// time on (the weights' pass is compute-bound there, not memory-bound). Per lane the
// operations and their order are BatchStreamTile's (VnniQ4 / VnniQ8), so every (row, token)
// is the same bits as there and as a token alone.
// Highway 1.0's AVX3_DL target names avxvnni (the VEX form the 256-bit tiles use) but not
// avx512vnni, which the CPUs of that target all have: the 512-bit form is enabled for these
// functions alone (a second target attribute would not add to the first under Clang).
HWY_POP_ATTRIBUTES
HWY_PUSH_ATTRIBUTES(HWY_TARGET_STR ",avx512vnni")
HWY_INLINE __m512i LoadPair(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
}
HWY_INLINE __m512i Broadcast4x16(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
struct VnniPairQ4 {
  struct Weights {
    __m512i lo[4];
    __m512i hi[4];
  };
  HWY_INLINE static void Decode(const uint8_t* a, const uint8_t* b, Weights& w) {
    const __m512i mask = _mm512_set1_epi8(0x0F);
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 4; ++k) {
      const __m512i raw = LoadPair(a + 32 * k, b + 32 * k);
      w.lo[k] = _mm512_and_si512(raw, mask);
      w.hi[k] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), mask);
    }
  }
  HWY_INLINE static __m512 Dot(const Weights& w, const int8_t* xq, float xs) {
    __m512i s = _mm512_setzero_si512();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 4; ++k) {
      s = _mm512_dpbusd_epi32(s, w.lo[k], Broadcast4x16(xq + 4 * k));
      s = _mm512_dpbusd_epi32(s, w.hi[k], Broadcast4x16(xq + 16 + 4 * k));
    }
    return _mm512_fnmadd_ps(_mm512_set1_ps(8.0f), _mm512_set1_ps(xs), _mm512_cvtepi32_ps(s));
  }
};
struct VnniPairQ8 {
  struct Weights {
    __m512i biased[8];  // w + 128 as unsigned bytes
  };
  HWY_INLINE static void Decode(const uint8_t* a, const uint8_t* b, Weights& w) {
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) w.biased[k] = _mm512_xor_si512(LoadPair(a + 32 * k, b + 32 * k), bias);
  }
  HWY_INLINE static __m512 Dot(const Weights& w, const int8_t* xq, float xs) {
    __m512i s = _mm512_setzero_si512();
    LMFORGE_IL_UNROLL
    for (size_t k = 0; k < 8; ++k) s = _mm512_dpbusd_epi32(s, w.biased[k], Broadcast4x16(xq + 4 * k));
    return _mm512_fnmadd_ps(_mm512_set1_ps(128.0f), _mm512_set1_ps(xs), _mm512_cvtepi32_ps(s));
  }
};
template <class Q>
struct PairFor;
template <>
struct PairFor<X86InterleavedQ4> {
  using type = VnniPairQ4;
};
template <>
struct PairFor<X86InterleavedQ8> {
  using type = VnniPairQ8;
};

// Group pairs (g, g+1) .. (g+2P-2, g+2P-1), tokens t .. t+T-1.
template <class Q, size_t P, size_t T>
HWY_NOINLINE void BatchPairTile(const InterleavedMatrix& w, uint64_t g, const PackedActivations& x, size_t t, float* y,
                                size_t ldy, uint64_t r0, uint64_t r1) {
  using D = typename PairFor<Q>::type;
  const int8_t* xq[T];
  const float* xd[T];
  const float* xs[T];
  LMFORGE_IL_UNROLL
  for (size_t j = 0; j < T; ++j) {
    xq[j] = x.quants(t + j);
    xd[j] = x.block_scales(t + j);
    xs[j] = x.block_sums(t + j);
  }
  const size_t bytes = w.block_group_bytes();
  const uint64_t nb = w.blocks_per_row();
  const uint8_t* blk[2 * P];
  __m512 acc[P][T];
  LMFORGE_IL_UNROLL
  for (size_t s = 0; s < 2 * P; ++s) blk[s] = w.group(g + s);
  LMFORGE_IL_UNROLL
  for (size_t p = 0; p < P; ++p) {
    LMFORGE_IL_UNROLL
    for (size_t j = 0; j < T; ++j) acc[p][j] = _mm512_setzero_ps();
  }
  for (uint64_t b = 0; b < nb; ++b) {
    LMFORGE_IL_UNROLL
    for (size_t s = 0; s < 2 * P; ++s) {
      for (size_t q = 0; q < bytes; q += 64) hwy::Prefetch(blk[s] + kStreamPrefetchBytes + q);
    }
    LMFORGE_IL_UNROLL
    for (size_t p = 0; p < P; ++p) {
      const uint8_t* a = blk[2 * p];
      const uint8_t* c = blk[2 * p + 1];
      const __m512 dw = _mm512_cvtph_ps(_mm256_inserti128_si256(
          _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(c)), 1));
      typename D::Weights wq;
      D::Decode(a + kScaleBytes, c + kScaleBytes, wq);
      LMFORGE_IL_UNROLL
      for (size_t j = 0; j < T; ++j) {
        const __m512 f = D::Dot(wq, xq[j] + b * kQK, xs[j][b]);
        acc[p][j] = _mm512_fmadd_ps(f, _mm512_mul_ps(dw, _mm512_set1_ps(xd[j][b])), acc[p][j]);
      }
      blk[2 * p] += bytes;
      blk[2 * p + 1] += bytes;
    }
  }
  LMFORGE_IL_UNROLL
  for (size_t j = 0; j < T; ++j) {
    float* out = y + (t + j) * ldy;
    LMFORGE_IL_UNROLL
    for (size_t p = 0; p < P; ++p) {
      const uint64_t row0 = (g + 2 * p) * kG;
      if (row0 >= r0 && row0 + 2 * kG <= r1) {
        _mm512_storeu_ps(out + row0, acc[p][j]);
      } else {  // a pair cut by the range: only its rows inside [r0, r1)
        alignas(64) float v[2 * kG];
        _mm512_store_ps(v, acc[p][j]);
        for (uint64_t i = 0; i < 2 * kG; ++i) {
          const uint64_t r = row0 + i;
          if (r >= r0 && r < r1) out[r] = v[i];
        }
      }
    }
  }
}

// Groups [g0, g1) against tokens [t, t + T): P pairs at a time, then one pair, then the last
// group alone on 256-bit registers.
template <class Q, size_t P, size_t T>
void BatchPairGroups(const InterleavedMatrix& w, uint64_t g0, uint64_t g1, const PackedActivations& x, size_t t,
                     float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  uint64_t g = g0;
  for (; g + 2 * P <= g1; g += 2 * P) BatchPairTile<Q, P, T>(w, g, x, t, y, ldy, r0, r1);
  for (; g + 2 <= g1; g += 2) BatchPairTile<Q, 1, T>(w, g, x, t, y, ldy, r0, r1);
  for (; g < g1; ++g) BatchStreamTile<Q, 1, T>(w, g, x, t, y, ldy, r0, r1);
}

// The last n < T tokens from t on (n >= 1) of the pair at g, in one tile.
template <class Q, size_t T>
void BatchPairRemainder(size_t n, const InterleavedMatrix& w, uint64_t g, const PackedActivations& x, size_t t,
                        float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if constexpr (T > 1) {
    if (n == T - 1) {
      BatchPairTile<Q, 1, T - 1>(w, g, x, t, y, ldy, r0, r1);
    } else {
      BatchPairRemainder<Q, T - 1>(n, w, g, x, t, y, ldy, r0, r1);
    }
  }
}
HWY_POP_ATTRIBUTES
HWY_PUSH_ATTRIBUTES(HWY_TARGET_STR)
#endif

// Tile shapes, measured on this Sapphire Rapids VM (TinyLlama-shape Q4_0, one thread, CPU
// time of a whole decode step; one token 50 ms): each tile keeps S * T = 16 accumulators next
// to one group's 8 decoded registers. 2 tokens: 8 groups (52 ms, as many streams as
// generation); 3-4 tokens: 4 groups (62 / 68 ms); more: 2 groups and 8 tokens at a time
// (8 tokens: 111 ms, against 118 with 4 x 4 tiles and 184 with the prompt tiles).
#ifndef LMFORGE_IL_SMALL_BATCH_MAX
#define LMFORGE_IL_SMALL_BATCH_MAX 16
#endif
constexpr size_t kSmallBatchMax = LMFORGE_IL_SMALL_BATCH_MAX;

// Groups [g0, g1) against tokens [t, t + T): S groups at a time, then one.
template <class Q, size_t S, size_t T>
void BatchStreamGroups(const InterleavedMatrix& w, uint64_t g0, uint64_t g1, const PackedActivations& x, size_t t,
                       float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  uint64_t g = g0;
  for (; g + S <= g1; g += S) BatchStreamTile<Q, S, T>(w, g, x, t, y, ldy, r0, r1);
  for (; g < g1; ++g) BatchStreamTile<Q, 1, T>(w, g, x, t, y, ldy, r0, r1);
}

// The last n < T tokens from t on (n >= 1) of groups g .. g+S-1, in one tile.
template <class Q, size_t S, size_t T>
void BatchStreamRemainder(size_t n, const InterleavedMatrix& w, uint64_t g, const PackedActivations& x, size_t t,
                          float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if constexpr (T > 1) {
    if (n == T - 1) {
      BatchStreamTile<Q, S, T - 1>(w, g, x, t, y, ldy, r0, r1);
    } else {
      BatchStreamRemainder<Q, S, T - 1>(n, w, g, x, t, y, ldy, r0, r1);
    }
  }
}

// 5 or more tokens: pairs of groups (then one), each pair against every token, 8 at a time:
// the pair's rows stay in L2 while the token blocks pass, so the weights stream once.
template <class Q, size_t S>
void BatchStreamPairs(const InterleavedMatrix& w, uint64_t g, const PackedActivations& x, float* y, size_t ldy,
                      uint64_t r0, uint64_t r1) {
  constexpr size_t kT = 8;
  const size_t n = x.n();
  size_t t = 0;
  for (; t + kT <= n; t += kT) BatchStreamTile<Q, S, kT>(w, g, x, t, y, ldy, r0, r1);
  if (t < n) BatchStreamRemainder<Q, S, kT>(n - t, w, g, x, t, y, ldy, r0, r1);
}

template <class Q>
void RunSmallBatch(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                   uint64_t r1) {
  const uint64_t g0 = r0 / kG, g1 = (r1 + kG - 1) / kG;
#if HWY_TARGET == HWY_AVX3_DL
  // Two groups to a register, 8 groups streamed at once for 2-4 tokens (CPU time of a whole
  // TinyLlama Q4_0 decode step on one thread against one token, loaded VM: 4 tokens 1.20x
  // with 4 pairs, 1.29x with 2, 1.38x with the 256-bit tiles below; 8 tokens 1.86x with two
  // pairs of 8-token tiles, 2.05x with one, 2.3x before).
  switch (x.n()) {
    case 2: BatchPairGroups<Q, 4, 2>(w, g0, g1, x, 0, y, ldy, r0, r1); return;
    case 3: BatchPairGroups<Q, 4, 3>(w, g0, g1, x, 0, y, ldy, r0, r1); return;
    case 4: BatchPairGroups<Q, 4, 4>(w, g0, g1, x, 0, y, ldy, r0, r1); return;
    default: break;
  }
  // 5 or more tokens: two pairs (then one) against every token, 8 at a time (16 accumulators
  // and 8 decoded registers of the 32): the pairs' rows stay in L2 while the tokens pass.
  constexpr size_t kT = 8;
  const size_t n = x.n(), full = n / kT * kT;
  uint64_t gp = g0;
  for (; gp + 4 <= g1; gp += 4) {
    for (size_t t = 0; t < full; t += kT) BatchPairTile<Q, 2, kT>(w, gp, x, t, y, ldy, r0, r1);
    if (full < n) {
      BatchPairRemainder<Q, kT>(n - full, w, gp, x, full, y, ldy, r0, r1);
      BatchPairRemainder<Q, kT>(n - full, w, gp + 2, x, full, y, ldy, r0, r1);
    }
  }
  for (; gp + 2 <= g1; gp += 2) {
    for (size_t t = 0; t < full; t += kT) BatchPairTile<Q, 1, kT>(w, gp, x, t, y, ldy, r0, r1);
    if (full < n) BatchPairRemainder<Q, kT>(n - full, w, gp, x, full, y, ldy, r0, r1);
  }
  if (gp < g1) BatchStreamPairs<Q, 1>(w, gp, x, y, ldy, r0, r1);
#else
  switch (x.n()) {
    case 2: BatchStreamGroups<Q, 8, 2>(w, g0, g1, x, 0, y, ldy, r0, r1); return;
    case 3: BatchStreamGroups<Q, 4, 3>(w, g0, g1, x, 0, y, ldy, r0, r1); return;
    case 4: BatchStreamGroups<Q, 4, 4>(w, g0, g1, x, 0, y, ldy, r0, r1); return;
    default: break;
  }
  uint64_t g = g0;
  for (; g + 2 <= g1; g += 2) BatchStreamPairs<Q, 2>(w, g, x, y, ldy, r0, r1);
  for (; g < g1; ++g) BatchStreamPairs<Q, 1>(w, g, x, y, ldy, r0, r1);
#endif
}

#define LMFORGE_IL_STREAM_TILES 1
#else
#define LMFORGE_IL_STREAM_TILES 0
#endif

#ifndef LMFORGE_IL_L1_KIB
#define LMFORGE_IL_L1_KIB 24
#endif

// Token blocks (L2-sized), then groups, then RN tokens at a time; prompt-sized batches also
// split the columns so that a group's chunk (~24 KiB) stays in L1 while every token passes it.
template <class Q, size_t RN>
void RunGroups(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
               uint64_t r1) {
  const size_t n = x.n();
  const uint64_t nb = w.blocks_per_row();
  const uint64_t g0 = r0 / kG, g1 = (r1 + kG - 1) / kG;
  uint64_t kb = nb;
  if (RN > 1) {
    kb = (uint64_t{LMFORGE_IL_L1_KIB} << 10) / w.block_group_bytes();
    if (kb < 8) kb = 8;
    const uint64_t chunks = (nb + kb - 1) / kb;  // equal chunks: no short tail chunk
    kb = (nb + chunks - 1) / chunks;
  }
  const size_t x_bytes = kb * (kQK + 2 * sizeof(float));  // a token's quants, scales and sums
  size_t tb = (size_t{256} << 10) / x_bytes;
  tb = tb < RN ? RN : tb / RN * RN;
  for (uint64_t b0 = 0; b0 < nb; b0 += kb) {
    const BRange k{b0, b0 + kb < nb ? b0 + kb : nb, b0 > 0};
    for (size_t t0 = 0; t0 < n; t0 += tb) {
      const size_t t1 = t0 + tb < n ? t0 + tb : n;
      uint64_t g = g0;
#if LMFORGE_IL_STREAM_TILES
      if (RN == 1 && !k.accumulate) {  // generation: kStreams groups at a time, then fewer
        for (; g + kStreams <= g1; g += kStreams)
          for (size_t t = t0; t < t1; ++t) StreamTile<Q, kStreams>(w, g, x, t, y, ldy, r0, r1);
        for (; g + 2 <= g1; g += 2)
          for (size_t t = t0; t < t1; ++t) StreamTile<Q, 2>(w, g, x, t, y, ldy, r0, r1);
      }
#endif
      for (; g < g1; ++g) {
        size_t t = t0;
        for (; t + RN <= t1; t += RN) GroupTile<Q, RN>(w, g, x, t, y, ldy, r0, r1, k);
        for (; t < t1; ++t) GroupTile<Q, 1>(w, g, x, t, y, ldy, r0, r1, k);
      }
    }
  }
}

// Activation rows per tile: 8 weight registers + RN accumulators + temporaries fit the 16 ymm
// registers of AVX2 for RN = 4.
#ifndef LMFORGE_IL_TILE_TOKENS
#define LMFORGE_IL_TILE_TOKENS 4
#endif
constexpr size_t kTileTokens = LMFORGE_IL_TILE_TOKENS;

template <class Q>
void RunProduct(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                uint64_t r1) {
#if LMFORGE_IL_STREAM_TILES
  if (x.n() >= 2 && x.n() <= kSmallBatchMax) {
    RunSmallBatch<Q>(w, x, y, ldy, r0, r1);
    return;
  }
#endif
  if (x.n() >= kTileTokens) {
    RunGroups<Q, kTileTokens>(w, x, y, ldy, r0, r1);
  } else {
    RunGroups<Q, 1>(w, x, y, ldy, r0, r1);
  }
}

void MatmulInterleaved(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                       uint64_t r1) {
  if (r0 >= r1 || x.n() == 0) return;
  if (w.type() == DType::Q4_0) {
    RunProduct<X86InterleavedQ4>(w, x, y, ldy, r0, r1);
  } else {
    RunProduct<X86InterleavedQ8>(w, x, y, ldy, r0, r1);
  }
}

#else  // portable Highway path: row by row, each block rebuilt and dotted through 16-bit lanes

void MatmulInterleaved(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                       uint64_t r1) {
  const uint64_t nb = w.blocks_per_row();
  const bool q8 = w.type() == DType::Q8_0;
  uint8_t blk[2 + kQK];
  alignas(16) int8_t wq[kQK];
  for (size_t t = 0; t < x.n(); ++t) {
    for (uint64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (uint64_t b = 0; b < nb; ++b) {
        w.original_block(r, b, blk);
        if (q8) {
          std::memcpy(wq, blk + 2, kQK);
        } else {
          for (size_t j = 0; j < kQK / 2; ++j) {
            wq[j] = static_cast<int8_t>((blk[2 + j] & 0x0F) - 8);
            wq[j + kQK / 2] = static_cast<int8_t>((blk[2 + j] >> 4) - 8);
          }
        }
        uint16_t h;
        std::memcpy(&h, blk, 2);
        const float sum = static_cast<float>(DotBlock(wq, x.quants(t) + b * kQK));
        acc += (fp16_to_fp32(h) * x.block_scales(t)[b]) * sum;
      }
      y[t * ldy + r] = acc;
    }
  }
}

#endif  // LMFORGE_X86_INTERLEAVED

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(MatmulInterleaved);

void matmul_interleaved(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                        uint64_t r1) {
  HWY_DYNAMIC_DISPATCH(MatmulInterleaved)(w, x, y, ldy, r0, r1);
}

}  // namespace lmforge
#endif  // HWY_ONCE
