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
// Numerics: weights and activations are each rounded to bf16 (round to nearest even; 8
// significant bits), products are exact in fp32 and summed in fp32. That is not the integer
// arithmetic of matmul_packed() (8-bit activation blocks); the engine only takes this path
// for chunks of at least kAmxMinTokens tokens, and the oracles measure the difference.
//
// matmul_amx_scalar() is the plain C++ twin: the same bf16 rounding, summed in double; it
// decodes the weights through the quant layer's reference decoders, not through the fast ones.
// matmul_amx() falls back to the twin where amx_usable() (kernels/amx_support.h) is false; the
// engine asks amx_enabled() instead, so that it keeps its integer kernels there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/gptq_form.h"
#include "kernels/interleaved.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

// Chunks with fewer tokens keep the integer kernels (generation is one token; a product needs
// a few token tiles before decoding the weights to bf16 pays off). Chosen from measurements,
// docs/benchmarks.md.
constexpr size_t kAmxMinTokens = 16;

// A weight matrix in one of the forms the engine holds: exactly one pointer is set.
struct AmxWeights {
  const MatrixView* matrix = nullptr;           // in place in the file, any type decode_row reads
  const InterleavedMatrix* interleaved = nullptr;  // Q4_0/Q8_0 regrouped by 8 rows
  const GptqForm* gptq = nullptr;               // inputs in its padded order

  uint64_t rows() const;
  // The inputs the activations must have: the GPTQ padded order's count for GPTQ.
  uint64_t cols() const;
};

// Whether matmul_amx() can multiply weights of type `t` held as a MatrixView.
bool amx_supports(DType t);

// bf16 of x, rounded to nearest even (NaN stays NaN), as the products round every operand.
uint16_t bf16_round(float x);

// n activation rows of `cols` floats in bf16 pair layout for the B operand of the tiles.
class AmxActivations {
 public:
  static constexpr size_t kTileTokens = 16;
  static constexpr size_t kStepInputs = 32;  // inputs per tile step

  AmxActivations() = default;
  AmxActivations(const AmxActivations&) = delete;  // base_ points into data_
  AmxActivations& operator=(const AmxActivations&) = delete;

  // Sizes the buffer for n rows of `cols` inputs; padding tokens (up to a multiple of 32) and
  // padding inputs (up to a multiple of 32) are zero. Reuses memory.
  void reset(size_t n, uint64_t cols);
  // Packs rows [t0, t1) of x (row t at x + t * ldx). Threads may pack disjoint ranges.
  void pack_rows(const float* x, size_t ldx, size_t t0, size_t t1);

  size_t n() const { return n_; }
  uint64_t cols() const { return cols_; }
  uint64_t steps() const { return steps_; }          // ceil(cols / 32)
  size_t token_tiles() const { return tiles_; }      // ceil(n / 32) * 2: tiles go in pairs
  // Tile (token tile j, input step s): 16 rows (input pairs) x 16 tokens x 2 bf16, 1 KiB.
  const uint16_t* tile(size_t j, uint64_t s) const { return base_ + (j * steps_ + s) * 512; }
  // The bf16 of token t's input k (0 for padding), for tests and the twin.
  uint16_t at(size_t t, uint64_t k) const;

 private:
  size_t n_ = 0, tiles_ = 0;
  uint64_t cols_ = 0, steps_ = 0;
  std::vector<uint16_t> data_;
  uint16_t* base_ = nullptr;  // data_ rounded up to 64 bytes: a tile row is one cache line
};

// y[t * ldy + r] = sum_c bf16(W[r][c]) * bf16(x[t][c]) for rows r in [r0, r1) and every packed
// row t. x.cols() must equal w.cols(). Threads may compute disjoint row ranges concurrently;
// ranges starting at multiples of 32 decode no row twice.
void matmul_amx(const AmxWeights& w, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);
void matmul_amx_scalar(const AmxWeights& w, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);

}  // namespace lmforge
