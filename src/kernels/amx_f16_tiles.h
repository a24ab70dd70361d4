// The AMX and AVX-512 code of kernels/amx_f16.h, in its own translation unit for the same reason
// as amx_tiles.h: only the *_tiles.cpp files are compiled with -mamx-* -mavx512*, they are only
// entered after amx_usable(), and raw pointers alone cross into them.
//
// Panel: amx_tiles.h's layout (step s at panel + s * 2048: 32 rows x 32 bf16 of w_hi, then the
// same of w_lo). F32 weights take a third part, w_lo2 = bf16(w - w_hi - w_lo) (step s at
// panel + s * 3072: w_hi, w_lo, w_lo2). Activations: AmxF16Activations (tile (j, s) at (j * steps + s) * 1536: x_hi,
// x_mid, x_lo, 512 bf16 each).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge::amx_f16_tiles {

constexpr size_t kPanelRows = 32;
constexpr size_t kPanelPart = 32 * 32;         // bf16 of one part (hi or lo) of a panel step
constexpr size_t kPanelStep = 2 * kPanelPart;  // bf16 per panel step
constexpr size_t kPanelStepF32 = 3 * kPanelPart;  // bf16 per panel step of F32 weights
constexpr size_t kActPart = 16 * 32;           // bf16 of one part of an activation tile
constexpr size_t kActTile = 3 * kActPart;

// Decodes `rows` F16 rows of `cols` values (the first at `first`, row_bytes apart) into panel
// rows 0 .. rows - 1: w_hi and w_lo per step, zeros past cols up to steps * 32; panel rows
// rows .. used - 1 (used: 16 or 32) become zeros.
void f16_rows_to_panel(const uint8_t* first, size_t row_bytes, size_t rows, size_t used, uint64_t cols,
                       uint64_t steps, uint16_t* panel);

// The same for F32 rows, into w_hi, w_lo and w_lo2 per step (kPanelStepF32 apart).
void f32_rows_to_panel(const uint8_t* first, size_t row_bytes, size_t rows, size_t used, uint64_t cols,
                       uint64_t steps, uint16_t* panel);

// Splits steps * 32 floats (zero-padded by the caller) into one token's column of the
// activation tiles: column = tile(j, 0) + 2 * (token % 16).
void floats_to_token_column(const float* in, uint64_t steps, uint16_t* column);

// y[t * ldy + i] = sum over the inputs of the five part products of weight row i and token t,
// for i < rows and t < n, where rows 32p .. 32p + 31 are panel p of n_panels (panel p at
// panels + p * steps * kPanelStep; rows 1 .. 32 * n_panels, every panel but the last full).
// All panels meet each slice of a token pair's activations in turn, so the activations are
// read once per n_panels * 32 rows. acts points at token tile 0, step 0; token_tiles is even.
// acc: scratch, n_panels * token_tiles * 512 floats, 64-byte aligned. Along the way it
// prefetches [ahead, ahead + ahead_bytes) into L2 (the next rows; 0 bytes for none).
// three_parts: F32 panels (kPanelStepF32 per step), which add w_lo2 x_hi first: a term that is
// exactly zero for F16-representable weights, so an F32 copy of an F16 matrix gives the F16
// product's result bit for bit.
void panel_product(const uint16_t* panels, size_t n_panels, const uint16_t* acts, uint64_t steps, size_t token_tiles,
                   size_t n, size_t rows, float* y, size_t ldy, float* acc, const uint8_t* ahead, size_t ahead_bytes,
                   bool three_parts = false);

}  // namespace lmforge::amx_f16_tiles
