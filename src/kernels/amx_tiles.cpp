// AMX-BF16 tile products and AVX-512 weight decoders (see amx_tiles.h). Compiled with the AMX
// flags only where the compiler has them (LMFORGE_AMX_COMPILED); otherwise empty, and
// amx_usable() is false.
#include "kernels/amx_tiles.h"

#ifdef LMFORGE_AMX_COMPILED
#include <immintrin.h>

namespace lmforge::amx_tiles {

namespace {

// LDTILECFG's 64-byte operand: palette 1, every tile 16 rows x 64 bytes (tiles 0-3: fp32
// accumulators 16 rows x 16 tokens; 4-5: weights 16 rows x 32 bf16; 6-7: activations 16 input
// pairs x 16 tokens x 2 bf16).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// Two vectors of 16 floats to 32 bf16 at dst, rounded to nearest even; NaN stays a quiet NaN
// (as bf16_round in amx_matmul.cpp).
inline void store_bf16(__m512 lo, __m512 hi, uint16_t* dst) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF), quiet = _mm512_set1_epi32(0x400000);
  for (int half = 0; half < 2; ++half) {
    const __m512 v = half ? hi : lo;
    __m512i u = _mm512_castps_si512(v);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i rounded = _mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
    u = _mm512_mask_or_epi32(rounded, nan, u, quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 16 * half), _mm512_cvtepi32_epi16(_mm512_srli_epi32(u, 16)));
  }
}

// Writes an accumulator tile, stored at c (16 rows x 16 tokens of fp32), to y[t * ldy + i] for
// rows i < rows (<= 16) and tokens t < n (<= 16): column t of c is token t's 16 outputs.
inline void store_transposed(const float* c, float* y, size_t ldy, size_t rows, size_t n) {
  const __m512i column = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32(16));
  const __mmask16 mask = static_cast<__mmask16>(rows >= 16 ? 0xFFFF : (1u << rows) - 1);
  for (size_t t = 0; t < n; ++t) {
    const __m512 v = _mm512_i32gather_ps(_mm512_add_epi32(column, _mm512_set1_epi32(static_cast<int>(t))), c, 4);
    _mm512_mask_storeu_ps(y + t * ldy, mask, v);
  }
}

// One panel against every token-tile pair: 2 weight tiles (kTwoRowTiles) or 1 by 2 token tiles.
template <bool kTwoRowTiles>
void product(const uint16_t* panel, const uint16_t* acts, uint64_t steps, size_t token_tiles, size_t n, size_t rows,
             float* y, size_t ldy) {
  for (size_t j = 0; j < token_tiles; j += 2) {
    const uint16_t* b0 = acts + j * steps * 512;
    const uint16_t* b1 = b0 + steps * 512;
    _tile_zero(0);
    _tile_zero(1);
    if (kTwoRowTiles) {
      _tile_zero(2);
      _tile_zero(3);
    }
    for (uint64_t s = 0; s < steps; ++s) {
      const uint16_t* a = panel + s * kStepElems;
      _tile_loadd(4, a, 64);
      _tile_loadd(6, b0 + s * 512, 64);
      _tile_loadd(7, b1 + s * 512, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      if (kTwoRowTiles) {
        _tile_loadd(5, a + 512, 64);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
    }
    const size_t t0 = j * 16, n0 = n > t0 ? (n - t0 < 16 ? n - t0 : 16) : 0;
    const size_t n1 = n > t0 + 16 ? (n - t0 - 16 < 16 ? n - t0 - 16 : 16) : 0;
    const size_t rows0 = rows < 16 ? rows : 16;
    // The tile numbers are assembler operands: literals, one statement each.
    alignas(64) float c[16 * 16];
    _tile_stored(0, c, 64);
    store_transposed(c, y + t0 * ldy, ldy, rows0, n0);
    _tile_stored(1, c, 64);
    store_transposed(c, y + (t0 + 16) * ldy, ldy, rows0, n1);
    if (kTwoRowTiles) {
      _tile_stored(2, c, 64);
      store_transposed(c, y + t0 * ldy + 16, ldy, rows - 16, n0);
      _tile_stored(3, c, 64);
      store_transposed(c, y + (t0 + 16) * ldy + 16, ldy, rows - 16, n1);
    }
  }
}

}  // namespace

void floats_to_panel_row(const float* in, uint64_t steps, uint16_t* panel, size_t row) {
  for (uint64_t s = 0; s < steps; ++s)
    store_bf16(_mm512_loadu_ps(in + 32 * s), _mm512_loadu_ps(in + 32 * s + 16), panel + s * kStepElems + row * 32);
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
      store_bf16(_mm512_mul_ps(lo, d), _mm512_mul_ps(hi, d), dst);
    } else {
      // Byte j holds element j (low nibble) and element j + 16 (high nibble); code - 8.
      const __m128i q = _mm_i32gather_epi32(quants, _mm256_castsi256_si128(chunk_offsets), 1);
      const __m512i bytes = _mm512_cvtepu8_epi32(q);
      const __m512i low = _mm512_and_si512(bytes, _mm512_set1_epi32(15)), eight = _mm512_set1_epi32(8);
      const __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(low, eight));
      const __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bytes, 4), eight));
      store_bf16(_mm512_mul_ps(lo, d), _mm512_mul_ps(hi, d), dst);
    }
  }
}

void panel_product(const uint16_t* panel, const uint16_t* acts, uint64_t steps, size_t token_tiles, size_t n,
                   size_t rows, float* y, size_t ldy) {
  static const TileConfig config;
  _tile_loadconfig(&config);
  if (rows > 16) {
    product<true>(panel, acts, steps, token_tiles, n, rows, y, ldy);
  } else {
    product<false>(panel, acts, steps, token_tiles, n, rows, y, ldy);
  }
  _tile_release();
}

}  // namespace lmforge::amx_tiles

#endif  // LMFORGE_AMX_COMPILED
