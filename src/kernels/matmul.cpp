// Highway matmul kernels, compiled once per SIMD target (foreach_target.h) and picked at run
// time (HWY_DYNAMIC_DISPATCH).
//
// One loop nest serves every weight type. Weight rows are taken RM at a time and activation
// rows RN at a time; each RM x RN micro-tile keeps RM * RN vector accumulators, so a weight
// vector, once loaded (and converted from F16/BF16 or unpacked from Q4_0 nibbles), is used
// against RN activation rows and an activation vector against RM weight rows. Activation rows
// are visited in blocks small enough to stay in L2 while the weight rows of the thread's range
// stream past them. With one activation row (generation) the tile is RM x 1: RM weight rows in
// flight at once for memory-level parallelism, one horizontal sum per row at the end.
//
// Q8_0/Q4_0 weights meet 8-bit activations (PackedActivations): per 32-element block an
// integer dot product, converted to float and scaled by d_w * d_x, as llama.cpp does. On x86
// (AVX2, AVX-512) the integer part uses vpmaddubsw/vpmaddwd on the raw registers (Highway 1.0.3
// has no 8-bit pairwise multiply-add); other targets use a portable Highway path through 16-bit
// lanes.

#include <cstring>

#include "core/half.h"
#include "kernels/matmul.h"
#include "kernels/matmul_q4_1_q5.h"
#include "kernels/matmul_kquants.h"
#include "quant/ggml_blocks.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matmul.cpp"
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
namespace hn = hwy::HWY_NAMESPACE;

// Redefined for each target pass of foreach_target.h.
#undef LMFORGE_X86_QUANT
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define LMFORGE_X86_QUANT 1
#else
#define LMFORGE_X86_QUANT 0
#endif

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

// The micro-tile loops over RM and RN must be fully unrolled so that the accumulator arrays
// live in registers; GCC -O2 does not do it by itself for nested loops.
#ifndef LMFORGE_UNROLL
#define LMFORGE_UNROLL _Pragma("GCC unroll 16")
#endif

// ------------------------------------------------------------------------------------------
// Activation packing.

// Round to nearest even for |v| < 2^22 (same trick as the scalar twin): vector add/sub.
template <class D>
HWY_INLINE hn::Vec<D> RoundNearestEven(D d, hn::Vec<D> v) {
  const auto magic = hn::Set(d, 12582912.0f);
  return hn::Sub(hn::Add(v, magic), magic);
}

// One activation row into 8-bit blocks, byte-identical to quantize_activation_row_scalar.
void QuantizeActivationRow(const float* x, uint64_t cols, int8_t* q, float* d, float* s, bool scaled_sums) {
  const hn::CappedTag<float, 8> df;  // 8 lanes on AVX2+, 4 on 128-bit targets
  const size_t N = hn::Lanes(df);
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  for (uint64_t b = 0; b < cols / kQK; ++b, x += kQK, q += kQK) {
    auto vmax = hn::Zero(df);
    for (size_t j = 0; j < kQK; j += N) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, x + j)));
    const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    d[b] = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
    const auto vid = hn::Set(df, id);
    auto vsum = hn::Zero(di);
    for (size_t j = 0; j < kQK; j += N) {
      auto v = RoundNearestEven(df, hn::Mul(hn::LoadU(df, x + j), vid));
      // NaN/inf inputs give 0, as in the scalar twin (x86 Max/Min would otherwise pass NaN on).
      const auto ok = hn::And(hn::Ge(v, hn::Set(df, -127.0f)), hn::Le(v, hn::Set(df, 127.0f)));
      v = hn::IfThenElseZero(ok, v);
      const auto vi = hn::ConvertTo(di, v);
      vsum = hn::Add(vsum, vi);
      hn::StoreU(hn::DemoteTo(d8, vi), d8, q + j);
    }
    s[b] = static_cast<float>(hn::GetLane(hn::SumOfLanes(di, vsum)));
    if (scaled_sums) s[b] = fp16_to_fp32(fp32_to_fp16(amax / 127.0f * s[b]));  // llama.cpp's Q8_1
  }
}

void PackRows(PackedActivations& p, const float* x, size_t ldx, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; ++t) {
    if (p.is_quantized()) {
      QuantizeActivationRow(x + t * ldx, p.cols(), p.quants(t), p.block_scales(t), p.block_sums(t), p.scaled_sums());
    } else {
      std::memcpy(p.floats(t), x + t * ldx, p.cols() * sizeof(float));
    }
  }
}

// ------------------------------------------------------------------------------------------
// Float weights (F32, F16, BF16) against float activations.

using DF = hn::ScalableTag<float>;

struct LoadF32 {
  static constexpr size_t kBytes = 4;
  HWY_INLINE static hn::Vec<DF> Load(DF df, const uint8_t* row, size_t c) {
    return hn::LoadU(df, reinterpret_cast<const float*>(row) + c);
  }
  static float Scalar(const uint8_t* row, size_t c) {
    float v;
    std::memcpy(&v, row + 4 * c, 4);
    return v;
  }
};

struct LoadF16 {
  static constexpr size_t kBytes = 2;
  HWY_INLINE static hn::Vec<DF> Load(DF df, const uint8_t* row, size_t c) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(row) + c));
  }
  static float Scalar(const uint8_t* row, size_t c) {
    uint16_t h;
    std::memcpy(&h, row + 2 * c, 2);
    return fp16_to_fp32(h);
  }
};

struct LoadBF16 {
  static constexpr size_t kBytes = 2;
  HWY_INLINE static hn::Vec<DF> Load(DF df, const uint8_t* row, size_t c) {
    const hn::Rebind<hwy::bfloat16_t, DF> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::bfloat16_t*>(row) + c));
  }
  static float Scalar(const uint8_t* row, size_t c) {
    uint16_t h;
    std::memcpy(&h, row + 2 * c, 2);
    return bf16_to_fp32(h);
  }
};

// y[t + j][r + i] for i < RM, j < RN.
template <class Loader, size_t RM, size_t RN>
HWY_NOINLINE void FloatTile(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y,
                            size_t ldy, const KRange& k, uint64_t stride = 1) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const uint8_t* wr[RM];
  const float* xt[RN];
  LMFORGE_UNROLL
  for (size_t i = 0; i < RM; ++i) wr[i] = w.row(r + i * stride);  // rows `stride` apart (generation)
  LMFORGE_UNROLL
  for (size_t j = 0; j < RN; ++j) xt[j] = x.floats(t + j);
  hn::Vec<DF> acc[RM][RN];
  LMFORGE_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) acc[i][j] = hn::Zero(df);
  }
  // Fetch the next tile's rows (contiguous after these in a GGUF file) along the way: the
  // hardware prefetcher alone restarts on every row.
  const uint8_t* next = w.row(r + RM);
  size_t c = k.c0;
  for (; c + N <= k.c1; c += N) {
    if (stride == 1) {
      for (size_t p = 0; p < RM * N * Loader::kBytes; p += 64) hwy::Prefetch(next + c * RM * Loader::kBytes + p);
    } else {  // each strided row's successor
      LMFORGE_UNROLL
      for (size_t i = 0; i < RM; ++i) hwy::Prefetch(wr[i] + w.row_bytes + c * Loader::kBytes);
    }
    hn::Vec<DF> wv[RM];
    LMFORGE_UNROLL
    for (size_t i = 0; i < RM; ++i) wv[i] = Loader::Load(df, wr[i], c);
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const auto xv = hn::Load(df, xt[j] + c);  // packed rows are 64-byte aligned
      LMFORGE_UNROLL
      for (size_t i = 0; i < RM; ++i) acc[i][j] = hn::MulAdd(wv[i], xv, acc[i][j]);
    }
  }
  LMFORGE_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      float v = hn::GetLane(hn::SumOfLanes(df, acc[i][j]));
      for (size_t cc = c; cc < k.c1; ++cc) v += Loader::Scalar(wr[i], cc) * xt[j][cc];
      float& out = y[(t + j) * ldy + r + i * stride];
      out = k.accumulate ? out + v : v;
    }
  }
}

// ------------------------------------------------------------------------------------------
// Quantized weights (Q8_0, Q4_0) against 8-bit activation blocks.

inline float BlockScale(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return fp16_to_fp32(h);
}

#if LMFORGE_X86_QUANT

// Blocks of 32 bytes in 256-bit registers, multiplied with vpmaddubsw (unsigned x signed bytes
// into 16-bit pair sums; |pair| <= 2 * 128 * 127 < 2^15, so it never saturates here).
//   Q8_0: |w| (once per weight block) times x with w's sign: w * x.
//   Q4_0: nibbles n (0..15) times x, minus 8 * (x[2k] + x[2k+1]) (once per activation block):
//         (n - 8) * x.
struct X86Q8 {
  static constexpr size_t kBlockBytes = kQ8_0BlockBytes;
  struct Block {
    __m256i mag;  // |w| as unsigned bytes (w = -128 gives 128, still exact)
    __m256i q;
  };
  struct Act {
    __m256i raw;
  };
  HWY_INLINE static Block Decode(const uint8_t* b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
    return {_mm256_sign_epi8(q, q), q};
  }
  HWY_INLINE static Act Prepare(__m256i xq) { return {xq}; }
  // The sign moves onto the activation (never -128, so negating it is exact), not the weight.
  HWY_INLINE static __m256i Pairs(const Block& w, const Act& a) {
    return _mm256_maddubs_epi16(w.mag, _mm256_sign_epi8(a.raw, w.q));
  }
};

struct X86Q4 {
  static constexpr size_t kBlockBytes = kQ4_0BlockBytes;
  struct Block {
    __m256i nibbles;
  };
  struct Act {
    __m256i raw;
    __m256i offset;
  };
  HWY_INLINE static Block Decode(const uint8_t* b) {
    // The 16 bytes in both halves; the upper half shifted down a nibble: low nibbles are
    // elements 0..15, high nibbles 16..31.
    const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)));
    const __m256i mixed = _mm256_blend_epi32(both, _mm256_srli_epi16(both, 4), 0xF0);
    return {_mm256_and_si256(mixed, _mm256_set1_epi8(0x0F))};
  }
  HWY_INLINE static Act Prepare(__m256i xq) { return {xq, _mm256_maddubs_epi16(_mm256_set1_epi8(8), xq)}; }
  HWY_INLINE static __m256i Pairs(const Block& w, const Act& a) {
    return _mm256_sub_epi16(_mm256_maddubs_epi16(w.nibbles, a.raw), a.offset);
  }
};

template <class Q, size_t RM, size_t RN>
HWY_NOINLINE void QuantTile(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y,
                            size_t ldy, const KRange& k) {
  const uint8_t* wr[RM];
  const int8_t* xq[RN];
  const float* xd[RN];
  LMFORGE_UNROLL
  for (size_t i = 0; i < RM; ++i) wr[i] = w.row(r + i);
  LMFORGE_UNROLL
  for (size_t j = 0; j < RN; ++j) {
    xq[j] = x.quants(t + j);
    xd[j] = x.block_scales(t + j);
  }
  __m256 acc[RM][RN];
  LMFORGE_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  const __m256i ones16 = _mm256_set1_epi16(1);
  // GGUF rows are contiguous and short (1-4 KiB), so the hardware prefetcher keeps restarting;
  // fetch the next tile's rows (the RM rows after these) a little at each block instead.
  const uint8_t* next = w.row(r + RM);
  for (uint64_t b = k.c0 / kQK; b < k.c1 / kQK; ++b) {
    const uint8_t* ahead = next + b * RM * Q::kBlockBytes;
    LMFORGE_UNROLL
    for (size_t p = 0; p < (RM * Q::kBlockBytes + 63) / 64; ++p) hwy::Prefetch(ahead + 64 * p);
    typename Q::Block wb[RM];
    __m256 dw[RM];  // the weight blocks' scales, in every lane
    LMFORGE_UNROLL
    for (size_t i = 0; i < RM; ++i) {
      const uint8_t* blk = wr[i] + b * Q::kBlockBytes;
      wb[i] = Q::Decode(blk);
      int16_t h;
      std::memcpy(&h, blk, 2);
      // Broadcast the fp16 bits, then one F16C conversion (every x86 target of this path has it).
      dw[i] = _mm256_cvtph_ps(_mm_set1_epi16(h));
    }
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const auto act = Q::Prepare(_mm256_load_si256(reinterpret_cast<const __m256i*>(xq[j] + b * kQK)));
      const __m256 dx = _mm256_broadcast_ss(xd[j] + b);
      LMFORGE_UNROLL
      for (size_t i = 0; i < RM; ++i) {
        const __m256i pairs = Q::Pairs(wb[i], act);
        const __m256 sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones16));
        acc[i][j] = _mm256_fmadd_ps(sum, _mm256_mul_ps(dw[i], dx), acc[i][j]);
      }
    }
  }
  LMFORGE_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc[i][j]), _mm256_extractf128_ps(acc[i][j], 1));
      const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
      const __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
      float& out = y[(t + j) * ldy + r + i];
      out = k.accumulate ? out + _mm_cvtss_f32(s1) : _mm_cvtss_f32(s1);
    }
  }
}

#else  // portable Highway path

// Weight blocks are decoded to 32 signed bytes (Q4_0: nibble - 8) on the stack, then dotted
// with the activation bytes through 16-bit lanes and 32-bit pairwise sums.
struct PortableQ8 {
  static constexpr size_t kBlockBytes = kQ8_0BlockBytes;
  static void Decode(const uint8_t* b, int8_t* out) { std::memcpy(out, b + 2, kQK); }
};
struct PortableQ4 {
  static constexpr size_t kBlockBytes = kQ4_0BlockBytes;
  static void Decode(const uint8_t* b, int8_t* out) {
    for (size_t j = 0; j < kQK / 2; ++j) {
      out[j] = static_cast<int8_t>((b[2 + j] & 0x0F) - 8);
      out[j + kQK / 2] = static_cast<int8_t>((b[2 + j] >> 4) - 8);
    }
  }
};

template <class Q, size_t RM, size_t RN>
HWY_NOINLINE void QuantTile(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y,
                            size_t ldy, const KRange& k) {
  float acc[RM][RN] = {};
  alignas(64) int8_t wq[RM][kQK];
  for (uint64_t b = k.c0 / kQK; b < k.c1 / kQK; ++b) {
    float dw[RM];
    LMFORGE_UNROLL
    for (size_t i = 0; i < RM; ++i) {
      const uint8_t* blk = w.row(r + i) + b * Q::kBlockBytes;
      Q::Decode(blk, wq[i]);
      dw[i] = BlockScale(blk);
    }
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      const int8_t* xq = x.quants(t + j) + b * kQK;
      const float dx = x.block_scales(t + j)[b];
      LMFORGE_UNROLL
      for (size_t i = 0; i < RM; ++i) acc[i][j] += (dw[i] * dx) * static_cast<float>(DotBlock(wq[i], xq));
    }
  }
  LMFORGE_UNROLL
  for (size_t i = 0; i < RM; ++i) {
    LMFORGE_UNROLL
    for (size_t j = 0; j < RN; ++j) {
      float& out = y[(t + j) * ldy + r + i];
      out = k.accumulate ? out + acc[i][j] : acc[i][j];
    }
  }
}

#endif  // LMFORGE_X86_QUANT

template <class Loader>
struct FloatTiles {
  template <size_t RM, size_t RN>
  struct T {
    static void Run(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y, size_t ldy,
                    const KRange& k) {
      FloatTile<Loader, RM, RN>(w, r, x, t, y, ldy, k);
    }
  };
};

template <class Q>
struct QuantTiles {
  template <size_t RM, size_t RN>
  struct T {
    static void Run(const MatrixView& w, uint64_t r, const PackedActivations& x, size_t t, float* y, size_t ldy,
                    const KRange& k) {
      QuantTile<Q, RM, RN>(w, r, x, t, y, ldy, k);
    }
  };
};

// Tile shapes. Generation (fewer activation rows than a tile): 4 x 1, four weight rows in
// flight. Prompts: as many accumulators as the register file allows next to the weight
// vectors and one activation vector: 3 x 4 (12 + 3 + 1 of 16 registers) for float weights,
// 4 x 2 for 8-bit blocks (whose per-block temporaries need a few more); AVX-512 has 32.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr size_t kFloatRM = 4, kFloatRN = 6, kQuantRM = 4, kQuantRN = 4;
#else
constexpr size_t kFloatRM = 3, kFloatRN = 4, kQuantRM = 4, kQuantRN = 2;
#endif

// Float generation on AVX-512: the row range in 8 parts, one row of each per tile, so that a core
// reads 8 distant places at once (as matmul_q4_1_q5.cpp's RunGenerationStreams). One thread,
// 640 MB of F16 (bench/kernels_bench gen_stream, CPU time, Sapphire Rapids VM): 79 ms per pass
// with 4 adjacent rows, 48-52 ms with 8 streams.
template <class Loader>
void RunFloatGeneration(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                        uint64_t r1) {
  constexpr size_t kS = 8;
  const KRange k{0, w.cols, false};
  const uint64_t h = (r1 - r0) / kS;
  for (uint64_t i = 0; i < h; ++i) FloatTile<Loader, kS, 1>(w, r0 + i, x, 0, y, ldy, k, h);
  for (uint64_t r = r0 + kS * h; r < r1; ++r) FloatTile<Loader, 1, 1>(w, r, x, 0, y, ldy, k);
}

// Float small batches on AVX-512 (2 to 8 tokens: a server's generating slots): the 8 strided
// rows of RunFloatGeneration against 2 tokens at a time, so that the tokens share each pass
// over the weights (one token took 143 ms per TinyLlama F16 step on one thread, two through
// the 4 x 1 tiles 265 ms). Whole rows, no column chunks: each (row, token) is the same sum in
// the same order as one token alone, so a token's result does not depend on its batch-mates.
template <class Loader>
void RunFloatSmallBatch(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                        uint64_t r1) {
  constexpr size_t kS = 8;
  const KRange k{0, w.cols, false};
  const size_t n = x.n();
  const uint64_t h = (r1 - r0) / kS;
  for (uint64_t i = 0; i < h; ++i) {
    size_t t = 0;
    for (; t + 2 <= n; t += 2) FloatTile<Loader, kS, 2>(w, r0 + i, x, t, y, ldy, k, h);
    if (t < n) FloatTile<Loader, kS, 1>(w, r0 + i, x, t, y, ldy, k, h);
  }
  for (uint64_t r = r0 + kS * h; r < r1; ++r)
    for (size_t t = 0; t < n; ++t) FloatTile<Loader, 1, 1>(w, r, x, t, y, ldy, k);
}
[[maybe_unused]] constexpr size_t kFloatSmallBatchMax = 8;  // read by the AVX-512 dispatch only

template <size_t RM, size_t RN, template <size_t, size_t> class Tile>
void RunProduct(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (x.n() < RN) {
    RunTiles<4, 1, Tile>(w, x, y, ldy, r0, r1);
  } else {
    RunTiles<RM, RN, Tile>(w, x, y, ldy, r0, r1);
  }
}

void MatmulPacked(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (r0 >= r1 || x.n() == 0) return;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL  // measured there; AVX2 keeps 4 x 1 tiles
  if (x.n() == 1) {
    switch (w.type) {
      case DType::F32: RunFloatGeneration<LoadF32>(w, x, y, ldy, r0, r1); return;
      case DType::F16: RunFloatGeneration<LoadF16>(w, x, y, ldy, r0, r1); return;
      case DType::BF16: RunFloatGeneration<LoadBF16>(w, x, y, ldy, r0, r1); return;
      default: break;
    }
  } else if (x.n() <= kFloatSmallBatchMax) {
    switch (w.type) {
      case DType::F32: RunFloatSmallBatch<LoadF32>(w, x, y, ldy, r0, r1); return;
      case DType::F16: RunFloatSmallBatch<LoadF16>(w, x, y, ldy, r0, r1); return;
      case DType::BF16: RunFloatSmallBatch<LoadBF16>(w, x, y, ldy, r0, r1); return;
      default: break;
    }
  }
#endif
  switch (w.type) {
    case DType::F32: RunProduct<kFloatRM, kFloatRN, FloatTiles<LoadF32>::template T>(w, x, y, ldy, r0, r1); break;
    case DType::F16: RunProduct<kFloatRM, kFloatRN, FloatTiles<LoadF16>::template T>(w, x, y, ldy, r0, r1); break;
    case DType::BF16: RunProduct<kFloatRM, kFloatRN, FloatTiles<LoadBF16>::template T>(w, x, y, ldy, r0, r1); break;
#if LMFORGE_X86_QUANT
    case DType::Q8_0: RunProduct<kQuantRM, kQuantRN, QuantTiles<X86Q8>::template T>(w, x, y, ldy, r0, r1); break;
    case DType::Q4_0: RunProduct<kQuantRM, kQuantRN, QuantTiles<X86Q4>::template T>(w, x, y, ldy, r0, r1); break;
#else
    case DType::Q8_0: RunProduct<kQuantRM, kQuantRN, QuantTiles<PortableQ8>::template T>(w, x, y, ldy, r0, r1); break;
    case DType::Q4_0: RunProduct<kQuantRM, kQuantRN, QuantTiles<PortableQ4>::template T>(w, x, y, ldy, r0, r1); break;
#endif
    default: break;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(TargetName);
HWY_EXPORT(PackRows);
HWY_EXPORT(MatmulPacked);

void PackedActivations::pack_rows(const float* x, size_t ldx, size_t t0, size_t t1) {
  if (super_blocks_) return pack_rows_kquant(*this, x, ldx, t0, t1);
  HWY_DYNAMIC_DISPATCH(PackRows)(*this, x, ldx, t0, t1);
}

void matmul_packed(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (is_q4_1_q5_type(w.type)) return matmul_packed_q4_1_q5(w, x, y, ldy, r0, r1);
  if (is_kquant_weight(w.type)) return matmul_packed_kquant(w, x, y, ldy, r0, r1);
  HWY_DYNAMIC_DISPATCH(MatmulPacked)(w, x, y, ldy, r0, r1);
}

const char* matmul_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace lmforge
#endif  // HWY_ONCE
