// The AMX-INT8 and AVX-512 code of kernels/amx_kquants.h, in its own translation unit compiled
// with the AMX flags (as amx_tiles.cpp, and only entered after amx_usable()). Raw pointers only.
//
// Panel (one super-block of up to 32 weight rows): step k (inputs 64k .. 64k + 63) at
// panel + k * 4096 holds the hi codes, 32 rows x 64 int8 (rows 0-15 one A tile, 16-31 the
// next), then the lo codes (+ 2048) in the same layout: w = scale * q = 64 * hi + lo.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge::amx_kquant_tiles {

constexpr size_t kPanelBytes = 4 * 4096;  // one super-block of 32 rows

// The weight types the tiles read, as the decoder's switch sees them.
enum class Kind : int { kQ3K = 3, kQ4K = 4, kQ5K = 5, kQ6K = 6 };

// y[t * ldy + i] = row i of the weights times token t, for i < rows (1..32) and t < n.
// w: the first row's super-blocks (row i at w + i * row_bytes, block_bytes each, nk of them).
// Activations (AmxKquantActivations): codes (64-byte aligned), scales, sums, token_tiles even.
// panel: kPanelBytes, 64-byte aligned; acc: token_tiles * 512 floats, 64-byte aligned.
void kquant_rows_product(Kind kind, const uint8_t* w, size_t row_bytes, size_t block_bytes, uint64_t nk, size_t rows,
                         const int8_t* codes, const float* scales, const int16_t* sums, size_t token_tiles, size_t n,
                         float* y, size_t ldy, int8_t* panel, float* acc);

}  // namespace lmforge::amx_kquant_tiles
