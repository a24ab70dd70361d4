// Prompt products of F16 weight matrices on Intel AMX tiles, to float precision.
//
// The bf16 tiles of kernels/amx_matmul.h keep 16 significant bits of each factor (hi + lo),
// which put F16 models 1.08e-4 off the float64 reference in oracle.forward (limit 1e-4): too
// coarse for float weights. Two facts make an exact version cheap:
//   - an F16 weight (11 significant bits, exponents inside bf16's) is exactly w_hi + w_lo with
//     w_hi = bf16(w) and w_lo = bf16(w - w_hi) (w_lo has at most 3 significant bits);
//   - a float activation (24 bits) is exactly x_hi + x_mid + x_lo, each the bf16 rounding of
//     what the parts before it left.
// The product of two bf16 is exact in fp32, and TDPBF16PS sums in fp32, so
//   w x ~ w_hi x_hi + w_hi x_mid + w_lo x_hi + w_hi x_lo + w_lo x_mid
// leaves out only w_lo x_lo (below 2^-26 of w x): each term as exact as in the float kernels,
// summed in fp32 in another order. Five tile products per 32 inputs instead of one is still
// several times the AVX-512 FMA rate (16 x 16 x 32 multiply-adds per TDPBF16PS).
//
// Layouts: the weight panel is amx_tiles.h's (per 32-input step, 32 rows of w_hi, then 32 rows
// of w_lo), decoded straight from the F16 row; the activations are AmxActivations' tiles with a
// third part: tile (token tile j, step s) at (j * steps + s) * 1536 is x_hi (16 input pairs x
// 16 tokens x 2 bf16), then x_mid (+ 512), then x_lo (+ 1024).
//
// matmul_amx_f16_scalar() is the plain C++ twin: the same parts and the same five products,
// summed in double. matmul_amx_f16() falls back to it where amx_usable() is false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

// x as hi + mid + lo, each the bf16 (round to nearest even) of the rest: exact for every
// finite float whose parts stay above bf16's (and the tiles') denormal range. Infinities and
// NaN keep hi and get zero lower parts.
struct Bf16Triple {
  uint16_t hi, mid, lo;
};
Bf16Triple split_bf16_3(float x);

// Whether the LLaMA engine multiplies weights of type `t` with matmul_amx_f16() (F16 only).
bool amx_f16_supports(DType t);

// Whether matmul_amx_f16() takes weights of type `t`: F16, and F32 with a third weight part
// w_lo2 = bf16(w - w_hi - w_lo) and a sixth product w_lo2 x_hi, added first so that it leaves
// the accumulators untouched when it is zero: an F32 copy of an F16 matrix multiplies to the
// F16 matrix's result bit for bit. (The terms still left out are below 2^-24 of w x.) The
// BERT encoder uses both.
bool amx_f16_or_f32_supports(DType t);

// n activation rows of `cols` floats as bf16 triples in the tiles' B layout (see above).
class AmxF16Activations {
 public:
  static constexpr size_t kTileTokens = 16;
  static constexpr size_t kStepInputs = 32;
  static constexpr size_t kPartElems = 16 * 32;          // bf16 of one part of one tile
  static constexpr size_t kTileElems = 3 * kPartElems;   // hi, mid, lo

  AmxF16Activations() = default;
  AmxF16Activations(const AmxF16Activations&) = delete;  // base_ points into data_
  AmxF16Activations& operator=(const AmxF16Activations&) = delete;

  // Sizes the buffer for n rows of `cols` inputs; padding tokens (up to a multiple of 32) and
  // padding inputs (up to a multiple of 32) are zero. Reuses memory.
  void reset(size_t n, uint64_t cols);
  // Rows [t0, t1) of x (row t at x + t * ldx). Threads may pack disjoint ranges.
  void pack_rows(const float* x, size_t ldx, size_t t0, size_t t1);

  size_t n() const { return n_; }
  uint64_t cols() const { return cols_; }
  uint64_t steps() const { return steps_; }      // ceil(cols / 32)
  size_t token_tiles() const { return tiles_; }  // ceil(n / 32) * 2: tiles go in pairs
  const uint16_t* tile(size_t j, uint64_t s) const { return base_ + (j * steps_ + s) * kTileElems; }
  // Token t's input k (zeros for padding), for tests and the twin.
  Bf16Triple at(size_t t, uint64_t k) const;

 private:
  uint16_t* column(size_t t);

  size_t n_ = 0, tiles_ = 0;
  uint64_t cols_ = 0, steps_ = 0;
  std::vector<uint16_t> data_;
  uint16_t* base_ = nullptr;  // data_ rounded up to 64 bytes: a tile row is one cache line
};

// y[t * ldy + r] = sum_c of the five products above for W[r][c] (w.type F16, or F32 with the
// sixth) and x[t][c], for
// rows r in [r0, r1) and every packed row t; x.cols() must equal w.cols. Threads may compute
// disjoint row ranges concurrently.
void matmul_amx_f16(const MatrixView& w, const AmxF16Activations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);
void matmul_amx_f16_scalar(const MatrixView& w, const AmxF16Activations& x, float* y, size_t ldy, uint64_t r0,
                           uint64_t r1);

}  // namespace lmforge
