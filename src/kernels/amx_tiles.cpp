// AMX-BF16 tile products and AVX-512 weight decoders (see amx_tiles.h). Compiled with the AMX
// flags only where the compiler has them (LMFORGE_AMX_COMPILED); otherwise empty, and
// amx_usable() is false.
#include "kernels/amx_tiles.h"

#ifdef LMFORGE_AMX_COMPILED
#include <immintrin.h>

#include "kernels/amx_tile_common-inl.h"

namespace lmforge::amx_tiles {

namespace {

using amx_common::UniformTileConfig;
using amx_common::bf16_round_ps;
using amx_common::store_pair;

// 32 floats (x0: 0-15, x1: 16-31) as their bf16 pairs (hi, lo): 32 high parts hi = bf16(x) at
// hi and 32 low parts lo = bf16(x - hi) at lo, both rounded to nearest even, as split_bf16 in
// amx_matmul.cpp (NaN aside, which only matters for its own sake). hi carries 8 significant
// bits and lo the next 8 (and the sign of the rest).
inline void store_split(__m512 x0, __m512 x1, uint16_t* hi, uint16_t* lo) {
  const __m512 h0 = bf16_round_ps(x0), h1 = bf16_round_ps(x1);
  _mm512_storeu_si512(hi, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(h1, h0)));
  _mm512_storeu_si512(lo, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_sub_ps(x1, h1), _mm512_sub_ps(x0, h0))));
}

// One panel against every token-tile pair: 2 weight tiles (kTwoRowTiles) or 1, by 2 token
// tiles. The inputs go in slices of kSliceSteps steps, all token pairs per slice, so that the
// panel's slice (32 rows x 256 bf16, 16 KiB) stays in L1 while the activations stream from L2;
// the accumulators wait in `acc` between slices.
constexpr uint64_t kSliceSteps = 8;

template <bool kTwoRowTiles>
void product(const uint16_t* panel, const uint16_t* acts, uint64_t steps, size_t token_tiles, size_t n, size_t rows,
             float* y, size_t ldy, float* acc) {
  for (uint64_t s0 = 0; s0 < steps; s0 += kSliceSteps) {
    const uint64_t s1 = s0 + kSliceSteps < steps ? s0 + kSliceSteps : steps;
    for (size_t j = 0; j < token_tiles; j += 2) {
      const uint16_t* b0 = acts + j * steps * kActStepElems;
      const uint16_t* b1 = b0 + steps * kActStepElems;
      float* c = acc + j / 2 * 4 * 256;  // this pair's 4 accumulator tiles
      amx_common::resume_accumulators<kTwoRowTiles>(c, s0 == 0);
      for (uint64_t s = s0; s < s1; ++s) {
        // w x ~ w_hi x_hi + w_hi x_lo + w_lo x_hi (w_lo x_lo is below 2^-16 of the product).
        const uint16_t* a = panel + s * kStepElems;
        const uint16_t* x0 = b0 + s * kActStepElems;
        const uint16_t* x1 = b1 + s * kActStepElems;
        _tile_loadd(4, a, 64);
        if (kTwoRowTiles) _tile_loadd(5, a + 512, 64);
        _tile_loadd(6, x0, 64);
        _tile_loadd(7, x1, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (kTwoRowTiles) {
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        _tile_loadd(6, x0 + 512, 64);
        _tile_loadd(7, x1 + 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (kTwoRowTiles) {
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        _tile_loadd(4, a + 1024, 64);
        if (kTwoRowTiles) _tile_loadd(5, a + 1024 + 512, 64);
        _tile_loadd(6, x0, 64);
        _tile_loadd(7, x1, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (kTwoRowTiles) {
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
      }
      amx_common::park_accumulators<kTwoRowTiles>(c);
    }
  }
  for (size_t j = 0; j < token_tiles; j += 2) {
    store_pair(acc + j / 2 * 4 * 256, j, n, rows, y, ldy);
  }
}

}  // namespace

void floats_to_panel_row(const float* in, uint64_t steps, uint16_t* panel, size_t row) {
  for (uint64_t s = 0; s < steps; ++s) {
    uint16_t* hi = panel + s * kStepElems + row * 32;
    store_split(_mm512_loadu_ps(in + 32 * s), _mm512_loadu_ps(in + 32 * s + 16), hi, hi + kPanelPart);
  }
}

void interleaved_row_to_panel(const uint8_t* group, size_t block_group_bytes, size_t index, uint64_t nb, bool q8,
                              uint16_t* panel, size_t row) {
  // Chunk k of row `index` (4 quant bytes) sits at 16 + (8k + index) * 4: chunks 32 bytes apart.
  const __m256i chunk_offsets = _mm256_set_epi32(224, 192, 160, 128, 96, 64, 32, 0);
  for (uint64_t b = 0; b < nb; ++b) {
    const uint8_t* bg = group + b * block_group_bytes;
    uint16_t h;
    __builtin_memcpy(&h, bg + 2 * index, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(h));
    const int* quants = reinterpret_cast<const int*>(bg + 16 + 4 * index);
    uint16_t* dst = panel + b * kStepElems + row * 32;
    if (q8) {
      const __m256i q = _mm256_i32gather_epi32(quants, chunk_offsets, 1);
      const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
      const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
      store_split(_mm512_mul_ps(lo, d), _mm512_mul_ps(hi, d), dst, dst + kPanelPart);
    } else {
      // Byte j holds element j (low nibble) and element j + 16 (high nibble); code - 8.
      const __m128i q = _mm_i32gather_epi32(quants, _mm256_castsi256_si128(chunk_offsets), 1);
      const __m512i bytes = _mm512_cvtepu8_epi32(q);
      const __m512i low = _mm512_and_si512(bytes, _mm512_set1_epi32(15)), eight = _mm512_set1_epi32(8);
      const __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(low, eight));
      const __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bytes, 4), eight));
      store_split(_mm512_mul_ps(lo, d), _mm512_mul_ps(hi, d), dst, dst + kPanelPart);
    }
  }
}

namespace {

// Q4_0: 16 quant bytes of one row (byte j: element j low nibble, j + 16 high) times d.
inline void q4_0_to_bf16(__m128i q, float d, uint16_t* dst) {
  const __m512i bytes = _mm512_cvtepu8_epi32(q), eight = _mm512_set1_epi32(8);
  const __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(bytes, _mm512_set1_epi32(15)), eight));
  const __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bytes, 4), eight));
  const __m512 vd = _mm512_set1_ps(d);
  store_split(_mm512_mul_ps(lo, vd), _mm512_mul_ps(hi, vd), dst, dst + kPanelPart);
}

// Q8_0: 32 int8 of one row (elements 0-15 in lo, 16-31 in hi) times d.
inline void q8_0_to_bf16(__m128i lo, __m128i hi, float d, uint16_t* dst) {
  const __m512 vd = _mm512_set1_ps(d);
  store_split(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), vd),
              _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), vd), dst, dst + kPanelPart);
}

// The four 128-bit lanes of v (the lane index is an immediate).
inline void lanes(__m512i v, __m128i out[4]) {
  out[0] = _mm512_extracti32x4_epi32(v, 0);
  out[1] = _mm512_extracti32x4_epi32(v, 1);
  out[2] = _mm512_extracti32x4_epi32(v, 2);
  out[3] = _mm512_extracti32x4_epi32(v, 3);
}

// One block group (8 rows' block b) into panel rows 0-7 at dst (32 bf16 apart). The quant
// dwords sit at index 8k + i (chunk k, row i); a two-source permute gathers rows 0-3 (then
// 4-7) so that each 128-bit lane holds one row's 4 consecutive chunks.
void block_group_to_bf16(const uint8_t* bg, bool q8, uint16_t* dst) {
  alignas(32) float d[8];
  _mm256_store_ps(d, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg))));
  const uint8_t* q = bg + 16;
  const __m512i z0 = _mm512_loadu_si512(q), z1 = _mm512_loadu_si512(q + 64);
  for (int half = 0; half < 2; ++half) {
    const int h = 4 * half;
    const __m512i idx = _mm512_set_epi32(h + 27, h + 19, h + 11, h + 3, h + 26, h + 18, h + 10, h + 2, h + 25, h + 17,
                                         h + 9, h + 1, h + 24, h + 16, h + 8, h + 0);
    __m128i first[4];
    lanes(_mm512_permutex2var_epi32(z0, idx, z1), first);  // Q4_0: whole rows; Q8_0: chunks 0-3
    if (!q8) {
      for (int i = 0; i < 4; ++i) q4_0_to_bf16(first[i], d[h + i], dst + (h + i) * 32);
      continue;
    }
    const __m512i z2 = _mm512_loadu_si512(q + 128), z3 = _mm512_loadu_si512(q + 192);
    __m128i second[4];
    lanes(_mm512_permutex2var_epi32(z2, idx, z3), second);  // chunks 4-7
    for (int i = 0; i < 4; ++i) q8_0_to_bf16(first[i], second[i], d[h + i], dst + (h + i) * 32);
  }
}

}  // namespace

void interleaved_groups_to_panel(const uint8_t* first_group, size_t group_bytes, size_t block_group_bytes,
                                 uint64_t nb, bool q8, size_t n_groups, uint16_t* panel) {
  for (uint64_t b = 0; b < nb; ++b)
    for (size_t g = 0; g < n_groups; ++g)
      block_group_to_bf16(first_group + g * group_bytes + b * block_group_bytes, q8, panel + b * kStepElems + g * 8 * 32);
}

void floats_to_token_column(const float* in, uint64_t steps, uint16_t* column) {
  // Pair p of a step's 32 inputs is dword p of the packed vector; it goes to row p of the tile,
  // 64 bytes apart.
  const __m512i rows = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(64));
  alignas(64) uint16_t hi[32], lo[32];
  for (uint64_t s = 0; s < steps; ++s) {
    store_split(_mm512_loadu_ps(in + 32 * s), _mm512_loadu_ps(in + 32 * s + 16), hi, lo);
    uint16_t* dst = column + s * kActStepElems;
    _mm512_i32scatter_epi32(dst, rows, _mm512_load_si512(hi), 1);
    _mm512_i32scatter_epi32(dst + kActPart, rows, _mm512_load_si512(lo), 1);
  }
}

// ---- INT8: interleaved Q4_0/Q8_0 and Q4_1/Q5_1 weights against the 8-bit activation blocks ----

namespace {

// Tiles 0-3: int32 accumulators 16 rows x 16 tokens; 4-5: weight codes 16 rows x 32 int8 (one
// block); 6-7: activation codes 8 rows (groups of 4 inputs) x 16 tokens x 4 int8.
struct alignas(64) Int8TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 32, 32, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 8, 8};
};

// acc[i][t] = fma(float(c[i][t]), d_w[i] * d_x[t], acc[i][t]) for a 16 x 16 tile: the integer
// kernels' per-block step (interleaved_matmul.cpp), one row of 16 tokens at a time; with
// minimums (kMin) then acc[i][t] = fma(m_w[i], s_x[t], acc[i][t]), llama.cpp's Q4_1 order.
template <bool kMin>
inline void scale_into(const int32_t* c, const float* dw, const float* mw, __m512 dx, __m512 sx, float* acc) {
  for (int i = 0; i < 16; ++i) {
    const __m512 f = _mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * i));
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(dw[i]), dx);
    __m512 a = _mm512_fmadd_ps(f, scale, _mm512_load_ps(acc + 16 * i));
    if (kMin) a = _mm512_fmadd_ps(_mm512_set1_ps(mw[i]), sx, a);
    _mm512_store_ps(acc + 16 * i, a);
  }
}

template <bool kTwoRowTiles, bool kMin>
void int8_product(const int8_t* codes, const float* dw, const float* mw, const int8_t* xq, const float* xd,
                  const float* xs, uint64_t nb, size_t token_tiles, size_t n, size_t rows, float* y, size_t ldy,
                  float* acc) {
  alignas(64) int32_t c[4][256];
  for (size_t j = 0; j < token_tiles; j += 2) {
    float* a = acc + j / 2 * 4 * 256;
    for (size_t e = 0; e < 4 * 256; e += 16) _mm512_store_ps(a + e, _mm512_setzero_ps());
    const int8_t* x0 = xq + j * nb * kInt8ActBlock;
    const int8_t* x1 = x0 + nb * kInt8ActBlock;
    const float* d0 = xd + j * nb * 16;
    const float* d1 = d0 + nb * 16;
    const float* s0 = kMin ? xs + j * nb * 16 : nullptr;
    const float* s1 = kMin ? s0 + nb * 16 : nullptr;
    for (uint64_t b = 0; b < nb; ++b) {
      const int8_t* wb = codes + b * kInt8PanelBlock;
      _tile_zero(0);
      _tile_zero(1);
      _tile_loadd(4, wb, 32);
      _tile_loadd(6, x0 + b * kInt8ActBlock, 64);
      _tile_loadd(7, x1 + b * kInt8ActBlock, 64);
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      _tile_stored(0, c[0], 64);
      _tile_stored(1, c[1], 64);
      if (kTwoRowTiles) {
        _tile_zero(2);
        _tile_zero(3);
        _tile_loadd(5, wb + 512, 32);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
        _tile_stored(2, c[2], 64);
        _tile_stored(3, c[3], 64);
      }
      const __m512 dx0 = _mm512_loadu_ps(d0 + b * 16), dx1 = _mm512_loadu_ps(d1 + b * 16);
      __m512 sx0 = _mm512_setzero_ps(), sx1 = _mm512_setzero_ps();
      if (kMin) {
        sx0 = _mm512_loadu_ps(s0 + b * 16);
        sx1 = _mm512_loadu_ps(s1 + b * 16);
      }
      const float* w = dw + b * 32;
      const float* m = kMin ? mw + b * 32 : nullptr;
      scale_into<kMin>(c[0], w, m, dx0, sx0, a);
      scale_into<kMin>(c[1], w, m, dx1, sx1, a + 256);
      if (kTwoRowTiles) {
        scale_into<kMin>(c[2], w + 16, kMin ? m + 16 : nullptr, dx0, sx0, a + 512);
        scale_into<kMin>(c[3], w + 16, kMin ? m + 16 : nullptr, dx1, sx1, a + 768);
      }
    }
    store_pair(a, j, n, rows, y, ldy);
  }
}

// One block group (8 rows' block b) as codes (Q4_0: nibble - 8) at codes (32 bytes per row)
// and scales at dw.
void block_group_to_int8(const uint8_t* bg, bool q8, int8_t* codes, float* dw) {
  _mm256_storeu_ps(dw, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg))));
  const uint8_t* q = bg + 16;
  const __m512i z0 = _mm512_loadu_si512(q), z1 = _mm512_loadu_si512(q + 64);
  for (int half = 0; half < 2; ++half) {
    const int h = 4 * half;
    const __m512i idx = _mm512_set_epi32(h + 27, h + 19, h + 11, h + 3, h + 26, h + 18, h + 10, h + 2, h + 25, h + 17,
                                         h + 9, h + 1, h + 24, h + 16, h + 8, h + 0);
    __m128i first[4];
    lanes(_mm512_permutex2var_epi32(z0, idx, z1), first);
    if (!q8) {
      const __m128i mask = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
      for (int i = 0; i < 4; ++i) {
        int8_t* row = codes + (h + i) * 32;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(row), _mm_sub_epi8(_mm_and_si128(first[i], mask), eight));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(row + 16),
                         _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(first[i], 4), mask), eight));
      }
      continue;
    }
    const __m512i z2 = _mm512_loadu_si512(q + 128), z3 = _mm512_loadu_si512(q + 192);
    __m128i second[4];
    lanes(_mm512_permutex2var_epi32(z2, idx, z3), second);
    for (int i = 0; i < 4; ++i) {
      int8_t* row = codes + (h + i) * 32;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(row), first[i]);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(row + 16), second[i]);
    }
  }
}

}  // namespace

void min_blocks_to_int8_panel(const uint8_t* first_row, size_t row_bytes, size_t rows, uint64_t nb, bool q5,
                              int8_t* codes, float* dw, float* mw) {
  // Q4_1 block: fp16 d, fp16 m, 16 nibble bytes; Q5_1: fp16 d, fp16 m, uint32 qh (bit j: the
  // fifth bit of element j), 16 nibble bytes. Byte j's low nibble is element j, its high
  // nibble element j + 16. Block by block across the 32 rows, so that the panel is written in
  // order (row by row, the stores went 1 KB apart and waited on L2 for most of the time).
  const size_t block_bytes = q5 ? 24 : 20, nibbles = q5 ? 8 : 4;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  alignas(64) int32_t dm[kPanelRows] = {};  // per row: d in the low half, m in the high half
  for (uint64_t b = 0; b < nb; ++b) {
    int8_t* out = codes + b * kInt8PanelBlock;
    const uint8_t* blk = first_row + b * block_bytes;
    for (size_t i = 0; i < rows; ++i, blk += row_bytes) {
      __builtin_memcpy(&dm[i], blk, 4);
      // The nibble bytes in both 128-bit halves, the upper half shifted down a nibble.
      const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + nibbles)));
      __m256i v = _mm256_and_si256(_mm256_blend_epi32(q, _mm256_srli_epi16(q, 4), 0xF0), low4);
      if (q5) {
        uint32_t qh;
        __builtin_memcpy(&qh, blk + 4, 4);
        // Bit j of qh sets 0x10 in byte j (a 512-bit mask move: AVX-512 BW without VL).
        v = _mm256_or_si256(v, _mm512_castsi512_si256(_mm512_maskz_mov_epi8(__mmask64{qh}, bit4)));
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(out + i * 32), v);
    }
    for (size_t i = rows; i < kPanelRows; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(out + i * 32), _mm256_setzero_si256());
    // Scales and minimums of the 32 rows, 16 at a time: the low and the high fp16 of each dword.
    for (size_t h = 0; h < kPanelRows; h += 16) {
      const __m512i both = _mm512_load_si512(dm + h);
      _mm512_storeu_ps(dw + b * 32 + h, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(both)));
      _mm512_storeu_ps(mw + b * 32 + h, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(both, 16))));
    }
  }
}

void interleaved_groups_to_int8_panel(const uint8_t* first_group, size_t group_bytes, size_t block_group_bytes,
                                      uint64_t nb, bool q8, size_t n_groups, int8_t* codes, float* dw) {
  for (uint64_t b = 0; b < nb; ++b)
    for (size_t g = 0; g < n_groups; ++g)
      block_group_to_int8(first_group + g * group_bytes + b * block_group_bytes, q8,
                          codes + b * kInt8PanelBlock + g * 8 * 32, dw + b * 32 + g * 8);
}

void int8_panel_product(const int8_t* codes, const float* dw, const float* mw, const int8_t* xq, const float* xd,
                        const float* xs, uint64_t nb, size_t token_tiles, size_t n, size_t rows, float* y, size_t ldy,
                        float* acc) {
  static const Int8TileConfig config;
  _tile_loadconfig(&config);
  const bool min = mw && xs;
  if (rows > 16) {
    (min ? int8_product<true, true> : int8_product<true, false>)(codes, dw, mw, xq, xd, xs, nb, token_tiles, n, rows,
                                                                 y, ldy, acc);
  } else {
    (min ? int8_product<false, true> : int8_product<false, false>)(codes, dw, mw, xq, xd, xs, nb, token_tiles, n, rows,
                                                                   y, ldy, acc);
  }
  _tile_release();
}

void panel_product(const uint16_t* panel, const uint16_t* acts, uint64_t steps, size_t token_tiles, size_t n,
                   size_t rows, float* y, size_t ldy, float* acc) {
  static const UniformTileConfig config;
  _tile_loadconfig(&config);
  if (rows > 16) {
    product<true>(panel, acts, steps, token_tiles, n, rows, y, ldy, acc);
  } else {
    product<false>(panel, acts, steps, token_tiles, n, rows, y, ldy, acc);
  }
  _tile_release();
}

}  // namespace lmforge::amx_tiles

#endif  // LMFORGE_AMX_COMPILED
