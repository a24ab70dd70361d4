// Pieces every AMX translation unit (amx_tiles.cpp, amx_f16_tiles.cpp, amx_tiles_kquants.cpp)
// uses: the uniform tile configuration and bf16 rounding in AVX-512. Included only by those
// files, which are compiled with the AMX and AVX-512 flags; everything here has internal
// linkage, so no other translation unit can end up with a copy built with those instructions.
#pragma once

#ifdef LMFORGE_AMX_COMPILED
#include <immintrin.h>

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

}  // namespace
}  // namespace lmforge::amx_common

#endif  // LMFORGE_AMX_COMPILED
