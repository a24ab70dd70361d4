// GPTQ linears in the form the engine multiplies: regrouped once at load, with no float copy of
// the weights, and their fused products.
//
// A GPTQ weight is scale * (code - zero) per (output, group); an act-order checkpoint gives
// every input its group through g_idx, so a group is a scattered set of inputs. At load, as
// exllama does, the inputs are sorted by group (stably) and each group is padded to a multiple
// of 32 inputs, so that every block of 32 inputs lies in one group; the activation vector is
// gathered into that order once per product (padding reads 0). In that order each output row
// is a run of ggml-style blocks:
//   2, 3, 4 bits: Q4_0 blocks, nibble = code, d = scale (fp16, exact for fp16 checkpoints)
//   8 bits:       Q8_0 blocks, byte = code - 128, d = scale
// so scale * (code - zero) = d * (nibble - 8) + offset with offset = d * (8 - zero) (8 bits:
// d * (byte) + d * (128 - zero)). Symmetric 4-bit checkpoints have zero 8 everywhere, so
// their offsets vanish and the form is exactly Q4_0's size. The blocks are kept as an
// InterleavedMatrix and multiplied by its integer kernels against 8-bit activation blocks; the
// offsets (one float per output and group) add sum_g offset[r][g] * X_g, where X_g is the sum
// of group g's (quantized) activations, computed once per token. The result is exactly the
// dequantized weights times the 8-bit activations, as for Q4_0 (same tolerance).
//
// The common case, 4 bits with groups of whole blocks in input order (no gather), instead gets
// the grouped form of kernels/gptq_grouped.h: the codes, one fp16 scale and one zero per (row,
// group), 4.19 bits per weight at group size 128 where the blocks above cost 4.5 (sym) or 4.75
// (asym). grouped() says which; every accessor below works for both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "hwy/aligned_allocator.h"
#include "kernels/gptq_grouped.h"
#include "kernels/interleaved.h"
#include "kernels/matmul.h"
#include "quant/gptq_matrix.h"

namespace lmforge {

class GptqForm {
 public:
  explicit GptqForm(const GptqMatrix& m);

  uint64_t rows() const { return rows_; }
  uint64_t cols() const { return cols_; }                  // inputs as the model has them
  uint64_t padded_cols() const { return x_map_.size(); }  // inputs in the sorted, padded order
  int bits() const { return bits_; }
  uint32_t groups() const { return groups_; }
  uint64_t blocks_per_group() const { return blocks_per_group_; }
  // The type the activations are packed for (Q4_0 or Q8_0: both read 8-bit blocks).
  DType activation_type() const { return activation_type_; }
  // The grouped 4-bit form (grouped_matrix()), or Q4_0/Q8_0 blocks plus offsets (core()).
  bool grouped() const { return grouped_ != nullptr; }
  const GptqGroupedMatrix& grouped_matrix() const { return *grouped_; }
  const InterleavedMatrix& core() const { return *core_; }
  // False when the padded order is the model's own (no act-order, groups of whole blocks):
  // the activations are packed as they are.
  bool gathers() const { return gathers_; }
  // x_map()[j]: the input at padded position j, or -1 for padding.
  const std::vector<int32_t>& x_map() const { return x_map_; }
  // Offsets of row r (groups() floats) of the block form. When every offset is 0 (symmetric
  // checkpoints: zero 8 = 2^bits / 2 for 4 bits) or the form is grouped (its zeros are its
  // own) none is stored and the products skip them: has_offsets() false, offsets() null.
  bool has_offsets() const { return !offsets_.empty(); }
  const float* offsets(uint64_t r) const { return offsets_.empty() ? nullptr : offsets_.data() + r * groups_; }

  // Memory held: blocks (or the grouped form), offsets and the input order.
  uint64_t bytes() const;

  // Row r's weights in the padded order as floats (padded_cols() values; padding is 0).
  void dequantize_padded_row(uint64_t r, float* out) const;

 private:
  uint64_t rows_ = 0, cols_ = 0;
  int bits_ = 4;
  DType activation_type_ = DType::Q4_0;
  uint32_t groups_ = 0;
  uint64_t blocks_per_group_ = 0;
  bool gathers_ = false;
  std::vector<int32_t> x_map_;
  std::vector<float> offsets_;  // [rows][groups]
  std::unique_ptr<const InterleavedMatrix> core_;       // null when grouped
  std::unique_ptr<const GptqGroupedMatrix> grouped_;   // null otherwise
};

// out[(t - t0) * padded_cols + j] = x[t * ldx + x_map[j]] (0 for padding), rows t in [t0, t1).
void gptq_gather_rows(const GptqForm& w, const float* x, size_t ldx, size_t t0, size_t t1, float* out);

// y[t * ldy + r] = sum_c W[r][c] * x[t][c] for rows r in [r0, r1) and every packed row t;
// x is packed for w.activation_type() over w.padded_cols() columns (gathered when w.gathers()).
// Threads may compute disjoint row ranges concurrently.
void matmul_gptq(const GptqForm& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);
void matmul_gptq_scalar(const GptqForm& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);

// The reference product y = W x in double precision from the dequantized rows and the float
// (unquantized) x of w.cols() values, for the reference engine.
void matmul_gptq_ref(const GptqForm& w, const float* x, float* y);

// The per-token group sums X_g of a packed row: sum over group g's blocks of d_b * s_b.
void gptq_group_sums(const GptqForm& w, const PackedActivations& x, size_t t, float* sums);

}  // namespace lmforge
