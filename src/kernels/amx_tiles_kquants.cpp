// AMX-INT8 tile products and AVX-512 row decoders for K-quant weights (amx_tiles_kquants.h,
// arithmetic in amx_kquants.h). Compiled with the AMX flags only where the compiler has them
// (LMFORGE_AMX_COMPILED); otherwise empty. Floats are multiplied and added one operation at a
// time (no FMA, -ffp-contract=off in CMake) so that they round as the scalar twin's do.
#include "kernels/amx_tiles_kquants.h"

#ifdef LMFORGE_AMX_COMPILED
#include <immintrin.h>

#include "kernels/amx_tile_common-inl.h"

namespace lmforge::amx_kquant_tiles {

namespace {

constexpr size_t kStepBytes = 4096;  // one 64-input step of the panel: hi codes, then lo codes
constexpr size_t kPartBytes = 2048;  // 32 rows x 64 int8
constexpr size_t kActStep = 1024;    // one 64-input step of a token tile: 16 rows x 64 bytes

// Every tile 16 rows x 64 bytes (amx_common::UniformTileConfig): 0-3 int32 accumulators (16
// weight rows x 16 tokens; 0-1 the hi codes against token tiles j, j + 1, 2-3 the lo codes), 4-5
// the hi and lo weight codes (16 rows x 64 inputs), 6-7 the activations of two token tiles (16
// rows of 4 inputs x 16 tokens).
using amx_common::UniformTileConfig;

// Per panel row and super-block: d, dmin (0 without mins) and the eight 6-bit mins as four
// int16 pairs (mins 2p, 2p + 1 in one dword, the layout of the activations' sum pairs).
struct RowScales {
  float d[32];
  float dmin[32];
  uint32_t min_pairs[32][4];
};

inline float load_half(const uint8_t* p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// 32 int16 codes times their scales (w = 64 hi + lo), as 32 hi bytes and 32 lo bytes.
inline void store_split(__m512i codes, __m512i scales, int8_t* hi, int8_t* lo) {
  const __m512i w = _mm512_mullo_epi16(codes, scales);
  // (The zero-masked narrowing: GCC 12 reads the plain one's undefined source as uninitialized.)
  const __mmask32 all = 0xFFFFFFFFu;
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi), _mm512_maskz_cvtepi16_epi8(all, _mm512_srai_epi16(w, 6)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo),
                      _mm512_maskz_cvtepi16_epi8(all, _mm512_and_si512(w, _mm512_set1_epi16(63))));
}

// 32 int16 lanes: a in lanes 0-15, b in 16-31.
inline __m512i two_scales(int a, int b) {
  return _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16(static_cast<short>(a)),
                                 _mm512_set1_epi16(static_cast<short>(b)));
}

// Q4_K/Q5_K's twelve scale bytes: eight 6-bit scales and eight 6-bit mins (bytes 0-3 scales 0-3
// and the top bits of 4-7, bytes 4-7 the same for the mins, bytes 8-11 the low nibbles of
// scales 4-7 and mins 4-7).
inline void scales_mins_k4(const uint8_t* p, uint8_t sc[8], uint8_t mn[8]) {
  uint32_t u[3];
  __builtin_memcpy(u, p, 12);
  const uint32_t s_lo = u[0] & 0x3f3f3f3fu, m_lo = u[1] & 0x3f3f3f3fu;
  const uint32_t s_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
  __builtin_memcpy(sc, &s_lo, 4);
  __builtin_memcpy(sc + 4, &s_hi, 4);
  __builtin_memcpy(mn, &m_lo, 4);
  __builtin_memcpy(mn + 4, &m_hi, 4);
}

// One Q4_K (five false) or Q5_K super-block of one row into panel row `row`. Bytes: d @0,
// dmin @2, scales @4, Q5_K's high bits qh[32] @16, codes @16 (Q4_K) or @48 (Q5_K); chunk c of
// the codes holds inputs 64c + l (low nibble of byte l) and 64c + 32 + l (high nibble), with
// Q5_K's fifth bits at bit 2c and 2c + 1 of qh[l].
template <bool kFive>
void k4_block_to_panel(const uint8_t* b, int8_t* panel, size_t row, RowScales& rs) {
  uint8_t sc[8], mn[8];
  scales_mins_k4(b + 4, sc, mn);
  rs.d[row] = load_half(b);
  rs.dmin[row] = load_half(b + 2);
  for (int p = 0; p < 4; ++p) rs.min_pairs[row][p] = uint32_t{mn[2 * p]} | uint32_t{mn[2 * p + 1]} << 16;
  const uint8_t* qs = b + (kFive ? 48 : 16);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
  for (int c = 0; c < 4; ++c) {
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
    __m256i lo = _mm256_and_si256(bits, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
    if (kFive) {
      // Bit 2c (2c + 1) of each qh byte to bit 4: shift it to bit 0, keep it, shift to bit 4.
      const __m256i one = _mm256_set1_epi8(1);
      const __m256i b0 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c)), one);
      const __m256i b1 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c + 1)), one);
      lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));
      hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));
    }
    int8_t* dst = panel + c * kStepBytes + row * 64;
    store_split(_mm512_cvtepu8_epi16(lo), _mm512_set1_epi16(sc[2 * c]), dst, dst + kPartBytes);
    store_split(_mm512_cvtepu8_epi16(hi), _mm512_set1_epi16(sc[2 * c + 1]), dst + 32, dst + kPartBytes + 32);
  }
}

// One Q6_K super-block of one row into panel row `row`. Bytes: ql[128] @0, qh[64] @128, int8
// scales[16] @192 (one per 16 inputs), d @208. Half h (inputs 128h ..) reads ql[64h ..] and
// qh[32h ..]: its four 32-input chunks k take the low (k < 2) or high nibbles of
// ql[64h + 32 (k % 2) + l] and bits 2k, 2k + 1 of qh[32h + l]; the code is that minus 32.
void q6k_block_to_panel(const uint8_t* b, int8_t* panel, size_t row, RowScales& rs) {
  rs.d[row] = load_half(b + 208);
  rs.dmin[row] = 0.0f;
  for (int p = 0; p < 4; ++p) rs.min_pairs[row][p] = 0;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const __m256i low4 = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(0x30);
  const __m512i offset = _mm512_set1_epi16(32);
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
    const __m256i q[4] = {
        _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), top)),
        _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), top)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, top)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                        _mm256_and_si256(_mm256_srli_epi16(qh, 2), top))};
    for (int k = 0; k < 4; ++k) {
      const int chunk = 4 * h + k;  // inputs 32 chunk ..; step chunk / 2, half chunk % 2
      int8_t* dst = panel + (chunk / 2) * kStepBytes + row * 64 + (chunk % 2) * 32;
      const __m512i codes = _mm512_sub_epi16(_mm512_cvtepu8_epi16(q[k]), offset);
      store_split(codes, two_scales(sc[2 * chunk], sc[2 * chunk + 1]), dst, dst + kPartBytes);
    }
  }
}

// One Q3_K super-block of one row into panel row `row`. Bytes: hmask[32] @0, qs[64] @32,
// scales[12] @96 (sixteen 6-bit values minus 32, one per 16 inputs), d @108. Chunk c (inputs
// 32c ..) takes bits 2 (c % 4), + 1 of qs[32 (c / 4) + l] and bit c of hmask[l] as its third
// bit; the code is that minus 4.
void q3k_block_to_panel(const uint8_t* b, int8_t* panel, size_t row, RowScales& rs) {
  rs.d[row] = load_half(b + 108);
  rs.dmin[row] = 0.0f;
  for (int p = 0; p < 4; ++p) rs.min_pairs[row][p] = 0;
  uint32_t a[3];
  __builtin_memcpy(a, b + 96, 12);
  const uint32_t words[4] = {(a[0] & 0x0f0f0f0fu) | ((a[2] >> 0) & 0x03030303u) << 4,
                             (a[1] & 0x0f0f0f0fu) | ((a[2] >> 2) & 0x03030303u) << 4,
                             ((a[0] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 4) & 0x03030303u) << 4,
                             ((a[1] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 6) & 0x03030303u) << 4};
  uint8_t biased[16];
  __builtin_memcpy(biased, words, 16);
  const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  const __m256i low2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  const __m512i offset = _mm512_set1_epi16(4);
  for (int h = 0; h < 2; ++h) {
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 + 32 * h));
    for (int k = 0; k < 4; ++k) {
      const int chunk = 4 * h + k;
      const __m256i low = _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(2 * k)), low2);
      const __m256i high = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(chunk)), one);
      const __m256i q = _mm256_or_si256(low, _mm256_slli_epi16(high, 2));
      int8_t* dst = panel + (chunk / 2) * kStepBytes + row * 64 + (chunk % 2) * 32;
      const __m512i codes = _mm512_sub_epi16(_mm512_cvtepu8_epi16(q), offset);
      store_split(codes, two_scales(biased[2 * chunk] - 32, biased[2 * chunk + 1] - 32), dst, dst + kPartBytes);
    }
  }
}

void zero_panel_row(int8_t* panel, size_t row, RowScales& rs) {
  for (size_t k = 0; k < 4; ++k) {
    _mm512_storeu_si512(panel + k * kStepBytes + row * 64, _mm512_setzero_si512());
    _mm512_storeu_si512(panel + k * kStepBytes + kPartBytes + row * 64, _mm512_setzero_si512());
  }
  rs.d[row] = rs.dmin[row] = 0.0f;
  for (int p = 0; p < 4; ++p) rs.min_pairs[row][p] = 0;
}

// acc[i][t] += dx[t] * (d_i * float(sumi) - dmin_i * float(summ)) for 16 rows i (from `first`)
// and 16 tokens t, where sumi = 64 * hi[i][t] + lo[i][t] (the stored accumulator tiles) and
// summ = sum_p the mins pair p of row i times the token's sums pair p.
template <bool kMins>
inline void add_super_block(const int32_t* hi, const int32_t* lo, const RowScales& rs, size_t first,
                            const float* dx_in, const int16_t* sums, float* acc) {
  const __m512 dx = _mm512_loadu_ps(dx_in);
  __m512i pairs[4];
  if (kMins)
    for (int p = 0; p < 4; ++p) pairs[p] = _mm512_loadu_si512(sums + 32 * p);
  for (size_t i = 0; i < 16; ++i) {
    const size_t r = first + i;
    const __m512i sumi =
        _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(hi + 16 * i), 6), _mm512_load_si512(lo + 16 * i));
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(rs.d[r]), _mm512_cvtepi32_ps(sumi));
    if (kMins) {
      __m512i summ = _mm512_madd_epi16(pairs[0], _mm512_set1_epi32(static_cast<int>(rs.min_pairs[r][0])));
      for (int p = 1; p < 4; ++p)
        summ = _mm512_add_epi32(summ,
                                _mm512_madd_epi16(pairs[p], _mm512_set1_epi32(static_cast<int>(rs.min_pairs[r][p]))));
      v = _mm512_sub_ps(v, _mm512_mul_ps(_mm512_set1_ps(rs.dmin[r]), _mm512_cvtepi32_ps(summ)));
    }
    float* a = acc + 16 * i;
    _mm512_store_ps(a, _mm512_add_ps(_mm512_load_ps(a), _mm512_mul_ps(dx, v)));
  }
}

// One super-block b of the panel (halves: 1 or 2 tiles of 16 rows) against every token tile.
// acc: half h, token tile j at acc + (h * token_tiles + j) * 256, [row][token].
template <bool kMins>
void super_block_product(const int8_t* panel, size_t halves, const RowScales& rs, const int8_t* codes,
                         const float* scales, const int16_t* sums, uint64_t nk, uint64_t b, size_t token_tiles,
                         float* acc) {
  alignas(64) int32_t c[4][256];
  for (size_t h = 0; h < halves; ++h) {
    for (size_t j = 0; j < token_tiles; j += 2) {
      const int8_t* x0 = codes + (j * nk + b) * 4 * kActStep;
      const int8_t* x1 = x0 + nk * 4 * kActStep;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (size_t k = 0; k < 4; ++k) {
        const int8_t* a = panel + k * kStepBytes + h * 1024;
        _tile_loadd(4, a, 64);
        _tile_loadd(5, a + kPartBytes, 64);
        _tile_loadd(6, x0 + k * kActStep, 64);
        _tile_loadd(7, x1 + k * kActStep, 64);
        _tile_dpbssd(0, 4, 6);
        _tile_dpbssd(1, 4, 7);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
      }
      _tile_stored(0, c[0], 64);
      _tile_stored(1, c[1], 64);
      _tile_stored(2, c[2], 64);
      _tile_stored(3, c[3], 64);
      for (size_t jj = 0; jj < 2; ++jj) {
        const size_t at = (j + jj) * nk + b;
        add_super_block<kMins>(c[jj], c[2 + jj], rs, h * 16, scales + at * 16, sums + at * 128,
                               acc + (h * token_tiles + j + jj) * 256);
      }
    }
  }
}

// y[t * ldy + i] for i < rows (<= 16) and t < n (<= 16) from a [row][token] tile, transposed
// in registers (16 gathers of 16 floats cost more than these 64 shuffles). The loops are
// unrolled so that every index is a constant and the arrays stay in registers.
__attribute__((always_inline)) inline void store_transposed(const float* c, float* y, size_t ldy, size_t rows,
                                                            size_t n) {
  __m512 r[16], t[16], u[16];
  _Pragma("GCC unroll 16") for (int i = 0; i < 16; ++i) r[i] = _mm512_load_ps(c + 16 * i);
  _Pragma("GCC unroll 8") for (int i = 0; i < 8; ++i) {  // per 128-bit lane: rows 2i, 2i + 1 interleaved
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  _Pragma("GCC unroll 4") for (int i = 0; i < 4; ++i) {  // lane L of u[4i + j]: column 4L + j, rows 4i ..
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  _Pragma("GCC unroll 4") for (int i = 0; i < 4; ++i) {  // the four row quarters of each column
    t[i] = _mm512_shuffle_f32x4(u[i], u[4 + i], 0x88);
    t[4 + i] = _mm512_shuffle_f32x4(u[i], u[4 + i], 0xDD);
    t[8 + i] = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0xDD);
  }
  _Pragma("GCC unroll 4") for (int i = 0; i < 4; ++i) {  // r[k]: column k, rows 0 .. 15
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
    r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
    r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);
  }
  const __mmask16 mask = static_cast<__mmask16>(rows >= 16 ? 0xFFFF : (1u << rows) - 1);
  _Pragma("GCC unroll 16") for (size_t k = 0; k < 16; ++k) if (k < n) _mm512_mask_storeu_ps(y + k * ldy, mask, r[k]);
}

template <bool kMins>
void rows_product(Kind kind, const uint8_t* w, size_t row_bytes, size_t block_bytes, uint64_t nk, size_t rows,
                  const int8_t* codes, const float* scales, const int16_t* sums, size_t token_tiles, size_t n,
                  float* y, size_t ldy, int8_t* panel, float* acc) {
  const size_t halves = rows > 16 ? 2 : 1;
  for (size_t e = 0; e < halves * token_tiles * 256; e += 16) _mm512_store_ps(acc + e, _mm512_setzero_ps());
  RowScales rs;
  for (uint64_t b = 0; b < nk; ++b) {
    for (size_t i = 0; i < 16 * halves; ++i) {
      if (i >= rows) {
        zero_panel_row(panel, i, rs);
        continue;
      }
      const uint8_t* blk = w + i * row_bytes + b * block_bytes;
      if (b + 1 < nk) {
        // The 32 rows are 32 streams, more than the hardware prefetcher follows: ask for the
        // next super-block of this row (up to 4 cache lines) while this one is multiplied.
        const char* next = reinterpret_cast<const char*>(blk + block_bytes);
        _mm_prefetch(next, _MM_HINT_T0);
        _mm_prefetch(next + 64, _MM_HINT_T0);
        _mm_prefetch(next + 128, _MM_HINT_T0);
        _mm_prefetch(next + block_bytes - 1, _MM_HINT_T0);
      }
      if (kind == Kind::kQ4K) {
        k4_block_to_panel<false>(blk, panel, i, rs);
      } else if (kind == Kind::kQ5K) {
        k4_block_to_panel<true>(blk, panel, i, rs);
      } else if (kind == Kind::kQ6K) {
        q6k_block_to_panel(blk, panel, i, rs);
      } else {
        q3k_block_to_panel(blk, panel, i, rs);
      }
    }
    super_block_product<kMins>(panel, halves, rs, codes, scales, sums, nk, b, token_tiles, acc);
  }
  for (size_t h = 0; h < halves; ++h) {
    const size_t hr = h == 0 ? (rows < 16 ? rows : 16) : rows - 16;
    for (size_t j = 0; j < token_tiles; ++j) {
      const size_t t0 = j * 16;
      if (t0 >= n) break;
      store_transposed(acc + (h * token_tiles + j) * 256, y + t0 * ldy + h * 16, ldy, hr, n - t0 < 16 ? n - t0 : 16);
    }
  }
}

}  // namespace

void kquant_rows_product(Kind kind, const uint8_t* w, size_t row_bytes, size_t block_bytes, uint64_t nk, size_t rows,
                         const int8_t* codes, const float* scales, const int16_t* sums, size_t token_tiles, size_t n,
                         float* y, size_t ldy, int8_t* panel, float* acc) {
  static const UniformTileConfig config;
  _tile_loadconfig(&config);
  if (kind == Kind::kQ6K || kind == Kind::kQ3K) {  // no mins
    rows_product<false>(kind, w, row_bytes, block_bytes, nk, rows, codes, scales, sums, token_tiles, n, y, ldy, panel,
                        acc);
  } else {
    rows_product<true>(kind, w, row_bytes, block_bytes, nk, rows, codes, scales, sums, token_tiles, n, y, ldy, panel,
                       acc);
  }
  _tile_release();
}

}  // namespace lmforge::amx_kquant_tiles

#endif  // LMFORGE_AMX_COMPILED
