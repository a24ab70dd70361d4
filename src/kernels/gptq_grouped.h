// GPTQ 4-bit linears in their own grouped form: 4-bit codes plus one fp16 scale and one zero
// point per (output row, group), about 4.19 bits per weight at group size 128, and their
// products. GptqForm (kernels/gptq_form.h) picks it for the common case; other GPTQ linears
// go through Q4_0 blocks plus offsets, which cost 4.75 bits per weight for asymmetric files.
//
// Generation reads every weight once per token, so its speed is bytes per token: storing a
// scale per 32 inputs (Q4_0) where GPTQ has one per 128 wastes 0.375 bits per weight, and
// float offsets another 0.25. Here the weight (r, c) of group g is s[r][g] * (code - z[r][g])
// as the checkpoint means it, and a product is, per row and group,
//   s * (sum over the group's blocks b of d_x[b] * sum_j code_j q_j  -  z * X_g)
// with the 8-bit activation blocks of PackedActivations (q_j, block scale d_x[b]) and X_g the
// group's sum of d_x[b] * sum_j q_j, once per token. The inner loop is the interleaved Q4_0
// integer dot product (kernels/interleaved.h) without a per-block weight scale.
//
// Supported: 4 bits, groups in input order (no act-order, or act-order whose g_idx is the plain
// i / group_size), every group a whole number of 32-input blocks (group size 32, 64, 128, ...
// or one group per row of a multiple of 32 inputs).
//
// Layout: rows are taken 8 at a time ("row groups"; rows past the matrix have code 0, scale 0,
// zero 0). Row group rg is one contiguous run of row_group_bytes() bytes, so a thread's rows
// stream from memory in one pass:
//   params[G]  per group: uint16 s[8] (fp16 scales, row order), int8 z[8] (zero points 0..16)
//              = 24 bytes; the params area padded to a multiple of 64 bytes
//   blocks[nb] nb = cols / 32, each 128 bytes: chunk[k][i][4] for k < 4, row i < 8, holding
//              bytes 4k .. 4k+3 of row i's 16 nibble bytes (byte j = code j | code j+16 << 4),
//              as InterleavedMatrix lays out Q4_0 quants
#pragma once

#include <cstddef>
#include <cstdint>

#include "hwy/aligned_allocator.h"
#include "kernels/matmul.h"
#include "quant/gptq_matrix.h"

namespace lmforge {

class GptqGroupedMatrix {
 public:
  static constexpr uint64_t kGroupRows = 8;
  static constexpr size_t kParamBytes = 24;   // one group's 8 scales and 8 zeros
  static constexpr size_t kBlockBytes = 128;  // one 32-input block of 8 rows

  // Whether `m` has this form (see the header comment).
  static bool supports(const GptqMatrix& m);
  // Regroups `m` (supports(m) must hold: std::invalid_argument otherwise). Exact: only bytes
  // move and fp16 scales stay fp16 (scales that are not fp16 values are rounded to fp16).
  explicit GptqGroupedMatrix(const GptqMatrix& m);

  uint64_t rows() const { return rows_; }
  uint64_t cols() const { return cols_; }
  uint32_t groups() const { return groups_; }
  uint64_t blocks_per_group() const { return blocks_per_group_; }
  uint64_t blocks_per_row() const { return cols_ / 32; }
  uint64_t row_groups() const { return (rows_ + kGroupRows - 1) / kGroupRows; }
  size_t params_bytes() const { return params_bytes_; }
  size_t row_group_bytes() const { return params_bytes_ + blocks_per_row() * kBlockBytes; }
  const uint8_t* params(uint64_t rg) const { return data_.get() + rg * row_group_bytes(); }
  const uint8_t* blocks(uint64_t rg) const { return params(rg) + params_bytes_; }

  float scale(uint64_t r, uint32_t g) const;
  int zero(uint64_t r, uint32_t g) const;
  // Row r's codes of block b (32 values 0..15).
  void block_codes(uint64_t r, uint64_t b, uint8_t* codes) const;

  // Memory held.
  uint64_t bytes() const { return row_groups() * row_group_bytes(); }

  // Row r's weights as floats (cols() values), exactly scale * (code - zero).
  void dequantize_row(uint64_t r, float* out) const;

 private:
  uint64_t rows_ = 0, cols_ = 0;
  uint32_t groups_ = 0;
  uint64_t blocks_per_group_ = 0;
  size_t params_bytes_ = 0;
  hwy::AlignedFreeUniquePtr<uint8_t[]> data_;
};

// sums[g] = X_g of packed row t: the sum over group g's blocks b of d_x[b] * (sum of q in b),
// for `groups` groups of `blocks_per_group` consecutive blocks. Both GPTQ forms' zero terms
// multiply these (GptqForm through gptq_group_sums).
void gptq_block_group_sums(uint32_t groups, uint64_t blocks_per_group, const PackedActivations& x, size_t t,
                           float* sums);
inline void gptq_grouped_sums(const GptqGroupedMatrix& w, const PackedActivations& x, size_t t, float* sums) {
  gptq_block_group_sums(w.groups(), w.blocks_per_group(), x, t, sums);
}

// y[t * ldy + r] = sum_c W[r][c] * x[t][c] for rows r in [r0, r1) and every packed row t; x is
// packed for Q4_0 weights over w.cols() columns. Threads may compute disjoint row ranges
// concurrently; ranges starting at multiples of 8 do not share a row group (fastest).
void matmul_gptq_grouped(const GptqGroupedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                         uint64_t r1);
void matmul_gptq_grouped_scalar(const GptqGroupedMatrix& w, const PackedActivations& x, float* y, size_t ldy,
                                uint64_t r0, uint64_t r1);

}  // namespace lmforge
