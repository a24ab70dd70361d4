// Batched weight products on Intel AMX tiles in BF16, for prompt processing.
//
// With a chunk of many tokens the product is compute-bound, and one TDPBF16PS instruction does
// 16 x 16 x 32 multiply-adds. The weights are the A operand: a thread decodes 32 of its rows
// at a time (with their block scales) into a bf16 "panel", laid out as one 16-row x 32-input
// tile after another, so a tile of weights is just 16 row-major bf16 rows and needs no
// reshuffle. The activations are the B operand: converted once per product to bf16 in pair
// ("VNNI") layout, 16 tokens per tile. Each step multiplies 2 weight tiles by 2 token tiles
// into 4 fp32 accumulator tiles (32 rows x 32 tokens) over the whole row, so block scales never
// enter the inner loop; each accumulator is stored once, at the end. Decoding is once per
// (rows, product) and is amortised over all the chunk's tokens.
//
// Numerics: a single bf16 (8 significant bits) per value would move the results away from
// llama.cpp's further than the probability oracles allow, so every value w is split into
// hi = bf16(w) and lo = bf16(w - hi) and a product takes w_hi x_hi + w_hi x_lo + w_lo x_hi
// (three tile products per step; the dropped w_lo x_lo is below 2^-16 of it). The activations
// are the ones the integer kernels read (pack_from: llama.cpp's 8-bit blocks times their
// scales), so the arithmetic is matmul_packed()'s to about 2^-16 relative per term, summed in
// fp32 in another order.
//
// Interleaved Q4_0/Q8_0 and Q4_1 (Q5_1 on request) take INT8 tiles instead, on the int8 form of
// the activations: the integer kernels' block arithmetic, exactly (amx_tiles.h).
//
// matmul_amx_scalar() is the plain C++ twin: the same split and products, summed in double; it
// decodes the weights through the quant layer's reference decoders, not through the fast ones
// (the INT8 forms: the codes straight from the block bytes, and the same float steps).
// matmul_amx() falls back to the twin where amx_usable() (kernels/amx_support.h) is false; the
// engine asks amx_enabled() instead, so that it keeps its integer kernels there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/gptq_form.h"
#include "kernels/interleaved.h"
#include "kernels/matmul.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

// A weight matrix in one of the forms the engine holds: exactly one pointer is set. Interleaved
// weights and Q4_1/Q5_1 matrices multiply the int8 form of the activations (the integer
// kernels' block arithmetic; amx_int8_form()), the others the bf16 pairs.
struct AmxWeights {
  const MatrixView* matrix = nullptr;           // in place in the file, any type decode_row reads
  const InterleavedMatrix* interleaved = nullptr;  // Q4_0/Q8_0 regrouped by 8 rows
  const GptqForm* gptq = nullptr;               // inputs in its padded order

  uint64_t rows() const;
  // The inputs the activations must have: the GPTQ padded order's count for GPTQ.
  uint64_t cols() const;
};

// The fewest tokens for which matmul_amx() beats the kernels of matmul.h on `w`: decoding the
// weights into tiles costs once per product, so it pays off above a few token tiles. 16 for
// interleaved Q4_0/Q8_0, for Q4_1/Q5_1 (INT8, decoded with AVX-512 here) and for Q3_K...Q6_K
// (INT8, kernels/amx_kquants.h; the engine multiplies those there); 32 for types with a SIMD
// decoder (decode_rows.h); 96 for the others (the reference decoder: ~1 ns per weight).
// Measured per 2048 x 2048 product on one thread, docs/benchmarks.md. The environment variable
// LMFORGE_AMX_MIN_TOKENS=N (read once) replaces all three, for tests and measurements.
size_t amx_min_tokens(const AmxWeights& w);

// Whether the engine should multiply weights of type `t` held as a MatrixView with
// matmul_amx(), which then keeps the results of matmul_packed() within the probability
// oracles: every runnable type but F32, F16 and Q5_1 (Q4_1 only on the int8 form of the
// activations). matmul_amx() itself multiplies Q5_1 too (on the int8 form), for tests and
// measurements; amx_matmul.cpp says why the engine does not ask it to.
bool amx_supports(DType t);

// Whether the product by `w` reads the int8 form of the activations (AmxActivations::reset's
// int8): interleaved Q4_0/Q8_0, and Q4_1/Q5_1 matrices, whose minimum term multiplies
// llama.cpp's fp16-rounded scaled block sums, which only that form carries.
bool amx_int8_form(const AmxWeights& w);

// bf16 of x, rounded to nearest even (NaN stays NaN), and back.
uint16_t bf16_round(float x);
float bf16_to_float(uint16_t b);

// x as hi + lo: hi = bf16_round(x), lo = bf16_round(x - hi); 16 significant bits together.
struct Bf16Pair {
  uint16_t hi, lo;
};
Bf16Pair split_bf16(float x);

// n activation rows of `cols` values as bf16 pairs in the tiles' B layout (amx_tiles.h).
class AmxActivations {
 public:
  static constexpr size_t kTileTokens = 16;
  static constexpr size_t kStepInputs = 32;  // inputs per tile step

  AmxActivations() = default;
  AmxActivations(const AmxActivations&) = delete;  // base_ points into data_
  AmxActivations& operator=(const AmxActivations&) = delete;

  // Sizes the buffer for n rows of `cols` inputs; padding tokens (up to a multiple of 32) and
  // padding inputs (up to a multiple of 32) are zero. Reuses memory. int8: the form for
  // amx_int8_form() weights instead (only pack_from, from their 8-bit blocks; for Q4_1/Q5_1
  // the packed rows' scaled sums come along).
  void reset(size_t n, uint64_t cols, bool int8 = false);
  // Rows [t0, t1) of x (row t at x + t * ldx), split as they are. Threads may pack disjoint
  // ranges.
  void pack_rows(const float* x, size_t ldx, size_t t0, size_t t1);
  // Rows [t0, t1) of a packed input of the same n and cols: the values the integer kernels
  // multiply (8-bit codes times their block scale), or its floats for F16/BF16 weights.
  void pack_from(const PackedActivations& p, size_t t0, size_t t1);

  bool int8() const { return int8_; }
  // The int8 form (amx_tiles.h): codes, their scales, and the scaled sums (zeros unless packed
  // from Q4_1/Q5_1 activations: PackedActivations::scaled_sums()).
  const int8_t* int8_codes() const { return reinterpret_cast<const int8_t*>(base_); }
  const float* int8_scales() const { return scales_.data(); }
  const float* int8_sums() const { return sums_.data(); }
  size_t n() const { return n_; }
  uint64_t cols() const { return cols_; }
  uint64_t steps() const { return steps_; }      // ceil(cols / 32)
  size_t token_tiles() const { return tiles_; }  // ceil(n / 32) * 2: tiles go in pairs
  // Tile (token tile j, input step s): high parts (512 bf16), then low parts.
  const uint16_t* tile(size_t j, uint64_t s) const { return base_ + (j * steps_ + s) * 1024; }
  // Token t's input k (zeros for padding), for tests and the twin: bf16 pair form, or the
  // int8 form's code and block scale.
  Bf16Pair at(size_t t, uint64_t k) const;
  int8_t int8_code(size_t t, uint64_t k) const;
  float int8_scale(size_t t, uint64_t block) const;
  float int8_sum(size_t t, uint64_t block) const;

 private:
  uint16_t* column(size_t t);
  void store_column(const float* row, size_t t);  // row: steps * 32 floats, zero-padded

  size_t n_ = 0, tiles_ = 0;
  uint64_t cols_ = 0, steps_ = 0;
  bool int8_ = false;
  std::vector<float> scales_, sums_;  // int8 form only
  std::vector<uint16_t> data_;
  uint16_t* base_ = nullptr;  // data_ rounded up to 64 bytes: a tile row is one cache line
};

// y[t * ldy + r] = sum_c (w_hi x_hi + w_hi x_lo + w_lo x_hi) over the pairs of W[r][c] and
// x[t][c], for rows r in [r0, r1) and every packed row t; on the int8 form (x.int8(), which
// must then equal amx_int8_form(w)) per 32-input block acc = fma(float(dot), d_w * d_x, acc),
// then for Q4_1/Q5_1 acc = fma(m_w, s_x, acc), blocks in order. x.cols() must equal w.cols().
// Threads may compute disjoint row ranges concurrently; ranges starting at multiples of 32
// decode no row twice.
void matmul_amx(const AmxWeights& w, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);
void matmul_amx_scalar(const AmxWeights& w, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);

}  // namespace lmforge
