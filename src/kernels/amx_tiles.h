// The AMX and AVX-512 code of kernels/amx_matmul.h, kept in its own translation unit: only
// amx_tiles.cpp is compiled with -mamx-* -mavx512*, so nothing else can pick up those
// instructions, and it is only entered after amx_usable(). Raw pointers only: no inline
// function or template of another header is instantiated with those flags.
//
// Every value w is held as two bf16, hi = bf16(w) and lo = bf16(w - hi) (16 significant bits
// together); products take w_hi x_hi + w_hi x_lo + w_lo x_hi.
//
// Panel layout (32 decoded weight rows of `steps` x 32 inputs): step s at panel + s * 2048 is
// the high parts, 32 rows x 32 bf16 (row i at + i * 32; rows 0-15 are one A tile, rows 16-31
// the next), then the low parts (+ 1024) in the same layout.
//
// Activation layout (AmxActivations): tile (token tile j, step s) at (j * steps + s) * 1024 is
// the high parts, 16 input pairs x 16 tokens x 2 bf16, then the low parts (+ 512).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge::amx_tiles {

constexpr size_t kPanelRows = 32;
constexpr size_t kPanelPart = 32 * 32;        // bf16 of one part (hi or lo) of a panel step
constexpr size_t kStepElems = 2 * kPanelPart;  // bf16 per panel step
constexpr size_t kActPart = 16 * 32;           // bf16 of one part of an activation tile
constexpr size_t kActStepElems = 2 * kActPart;

// Splits steps * 32 floats (zero-padded by the caller) into one token's column of the
// activation tiles: column = tile(j, 0) + 2 * (token % 16).
void floats_to_token_column(const float* in, uint64_t steps, uint16_t* column);

// Splits steps * 32 floats (the caller zero-pads past the row's inputs) into panel row `row`.
void floats_to_panel_row(const float* in, uint64_t steps, uint16_t* panel, size_t row);

// Decodes row `index` (0-7) of an interleaved Q4_0 (q8 false) or Q8_0 (q8 true) group: nb block
// groups of block_group_bytes from `group`, into panel row `row`. kernels/interleaved.h layout.
void interleaved_row_to_panel(const uint8_t* group, size_t block_group_bytes, size_t index, uint64_t nb, bool q8,
                              uint16_t* panel, size_t row);

// Decodes n_groups (1-4) consecutive interleaved groups, starting at first_group (groups
// group_bytes apart), into panel rows 0 .. 8 * n_groups - 1, block by block (the panel is
// written in order, the groups read in order). Rows past the matrix come out as zeros, as
// InterleavedMatrix pads them.
void interleaved_groups_to_panel(const uint8_t* first_group, size_t group_bytes, size_t block_group_bytes,
                                 uint64_t nb, bool q8, size_t n_groups, uint16_t* panel);

// y[t * ldy + i] = sum over the panel's inputs of panel row i times token t, for i < rows
// (1..32) and t < n; acts points at token tile 0, step 0 (kernels/amx_matmul.h AmxActivations),
// token_tiles is even. acc: scratch for the accumulators, token_tiles * 512 floats, 64-byte
// aligned.
void panel_product(const uint16_t* panel, const uint16_t* acts, uint64_t steps, size_t token_tiles, size_t n,
                   size_t rows, float* y, size_t ldy, float* acc);

// INT8 products for interleaved Q4_0/Q8_0 weights and for Q4_1/Q5_1 rows: the integer
// kernels' block arithmetic (an exact int32 dot per 32-input block, then acc = fma(float(dot),
// d_w * d_x, acc), and for Q4_1/Q5_1 acc = fma(m_w, s_x, acc), block after block), on TDPBSSD
// tiles.
//
// Int8 panel: block b at codes + b * 1024 is 32 rows x 32 int8 codes (Q4_0: nibble - 8), rows
// 0-15 one A tile; scales dw[b * 32 + row] (Q4_1/Q5_1: minimums mw, same layout). Int8
// activations (AmxActivations, int8 form): for token tile j, block b at xq + (j * nb + b) * 512:
// 8 rows (4 inputs each) x 16 tokens x 4 codes; scales xd[(j * nb + b) * 16 + token] (scaled
// sums xs, same layout).
constexpr size_t kInt8PanelBlock = 32 * 32;
constexpr size_t kInt8ActBlock = 8 * 16 * 4;

void interleaved_groups_to_int8_panel(const uint8_t* first_group, size_t group_bytes, size_t block_group_bytes,
                                      uint64_t nb, bool q8, size_t n_groups, int8_t* codes, float* dw);

// Q4_1 (q5 false) or Q5_1 (q5 true) rows held in place, `rows` (1..32) of them row_bytes apart
// from first_row, nb blocks each (quant/ggml_blocks.h, quant/q5.h layouts), into int8 panel
// rows 0 .. rows - 1: the unsigned codes (0..15 or 0..31, which fit int8 as they are), the
// scales dw[b * 32 + row] and the minimums mw[b * 32 + row], fp16 widened. Panel rows rows..31
// come out as zeros. codes: 64-byte aligned.
void min_blocks_to_int8_panel(const uint8_t* first_row, size_t row_bytes, size_t rows, uint64_t nb, bool q5,
                              int8_t* codes, float* dw, float* mw);

// y[t * ldy + i] for rows i < rows and tokens t < n, as panel_product; acc as there. With
// minimums (mw and xs both set: Q4_1/Q5_1), each block then adds acc = fma(m_w, s_x, acc), s_x
// the activation block's scaled sum at xs[(j * nb + b) * 16 + token] (llama.cpp's Q8_1 "s").
void int8_panel_product(const int8_t* codes, const float* dw, const float* mw, const int8_t* xq, const float* xd,
                        const float* xs, uint64_t nb, size_t token_tiles, size_t n, size_t rows, float* y, size_t ldy,
                        float* acc);

}  // namespace lmforge::amx_tiles
