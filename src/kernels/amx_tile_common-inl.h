// Pieces every AMX translation unit (amx_tiles.cpp, amx_f16_tiles.cpp, amx_tiles_kquants.cpp)
// uses: the uniform tile configuration and bf16 rounding in AVX-512. Included only by those
// files, which are compiled with the AMX and AVX-512 flags; everything here has internal
// linkage, so no other translation unit can end up with a copy built with those instructions.
#pragma once

#ifdef LMFORGE_AMX_COMPILED
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace lmforge::amx_common {
namespace {

// LDTILECFG's 64-byte operand with palette 1 and tiles 0-7 all 16 rows x 64 bytes, the shape
// the BF16 products (fp32 accumulators 16 x 16, bf16 operands 16 x 32 pairs) and the K-quant
// INT8 products (int32 accumulators, 64 int8 per row) both use. The 32-input INT8 blocks of
// amx_tiles.cpp have a configuration of their own.
struct alignas(64) UniformTileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// bf16(x) rounded to nearest even, as a float whose low 16 bits are zero. NaN may come out as
// infinity; callers that store a high part let the hardware convert it instead, which keeps NaN.
inline __m512 bf16_round_ps(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i rounded = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)),
                                           _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)));
  return _mm512_castsi512_ps(_mm512_and_si512(rounded, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

// The fp32 accumulator tiles of one pair of token tiles across input slices: tiles 0-1 (weight
// rows 0-15 against token tiles j and j + 1) and, with kTwoRowTiles, 2-3 (rows 16-31), parked
// between slices at c (4 x 256 floats, tile t at c + 256 t). The tile numbers are assembler
// operands: literals, one statement each.
template <bool kTwoRowTiles>
inline void resume_accumulators(const float* c, bool first_slice) {
  if (first_slice) {
    _tile_zero(0);
    _tile_zero(1);
    if (kTwoRowTiles) {
      _tile_zero(2);
      _tile_zero(3);
    }
  } else {
    _tile_loadd(0, c, 64);
    _tile_loadd(1, c + 256, 64);
    if (kTwoRowTiles) {
      _tile_loadd(2, c + 512, 64);
      _tile_loadd(3, c + 768, 64);
    }
  }
}

template <bool kTwoRowTiles>
inline void park_accumulators(float* c) {
  _tile_stored(0, c, 64);
  _tile_stored(1, c + 256, 64);
  if (kTwoRowTiles) {
    _tile_stored(2, c + 512, 64);
    _tile_stored(3, c + 768, 64);
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

// The 4 parked accumulator tiles of token tiles j and j + 1 (c as park_accumulators leaves them)
// to y[t * ldy + i] for the panel's rows i < rows (1..32) and tokens t < n.
inline void store_pair(const float* c, size_t j, size_t n, size_t rows, float* y, size_t ldy) {
  const size_t t0 = j * 16, n0 = n > t0 ? (n - t0 < 16 ? n - t0 : 16) : 0;
  const size_t n1 = n > t0 + 16 ? (n - t0 - 16 < 16 ? n - t0 - 16 : 16) : 0;
  const size_t rows0 = rows < 16 ? rows : 16;
  store_transposed(c, y + t0 * ldy, ldy, rows0, n0);
  store_transposed(c + 256, y + (t0 + 16) * ldy, ldy, rows0, n1);
  if (rows > 16) {
    store_transposed(c + 512, y + t0 * ldy + 16, ldy, rows - 16, n0);
    store_transposed(c + 768, y + (t0 + 16) * ldy + 16, ldy, rows - 16, n1);
  }
}

}  // namespace
}  // namespace lmforge::amx_common

#endif  // LMFORGE_AMX_COMPILED
