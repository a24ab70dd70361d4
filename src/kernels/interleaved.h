// Q8_0 / Q4_0 weight matrices regrouped once, at load, into an interleaved layout, and their
// matrix products.
//
// In a GGUF file each weight row is a run of 32-element blocks. A product over that layout
// ends every row with a horizontal sum of a vector accumulator and pays one float conversion
// and scale multiply per (row, token, block). Here rows are taken 8 at a time ("groups") and the
// 8 rows' blocks b are stored together, so that one 256-bit register holds 4 bytes of each of
// the 8 rows: a multiply-add of that register with 4 activation bytes broadcast to every lane
// leaves row i's partial sum in 32-bit lane i. The 8 rows' integer block sums come out in one
// register, are converted and scaled together (one multiply by 8 weight scales), and a group's
// result for one token is 8 adjacent floats of y: no horizontal sums at all.
//
// Layout: group g (rows 8g .. 8g+7; rows past the matrix are zero, scale 0) is nb = cols / 32
// consecutive "block groups", each
//   uint16 d[8]            the 8 rows' fp16 block scales, row order
//   uint8  chunk[k][8][4]  k < 4 (Q4_0) or 8 (Q8_0): chunk[k][i] = bytes 4k .. 4k+3 of row i's
//                          block quants (Q4_0: 16 bytes of nibble pairs; Q8_0: 32 int8)
// so a block group is 16 + 8 * 16 = 144 bytes (Q4_0) or 16 + 8 * 32 = 272 bytes (Q8_0), the
// same size as the 8 original blocks: the repacked matrix replaces the mapped one in memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "hwy/aligned_allocator.h"
#include "kernels/matmul.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

class InterleavedMatrix {
 public:
  static constexpr uint64_t kGroupRows = 8;

  // The types that have an interleaved form: Q8_0 and Q4_0.
  static bool supports(DType type);

  // Regroups `w` (a supported type, cols a multiple of 32). Exact: only bytes move.
  explicit InterleavedMatrix(const MatrixView& w);

  DType type() const { return type_; }
  uint64_t rows() const { return rows_; }
  uint64_t cols() const { return cols_; }
  uint64_t groups() const { return (rows_ + kGroupRows - 1) / kGroupRows; }
  uint64_t blocks_per_row() const { return cols_ / 32; }
  // Bytes of one block group (8 rows' block b) and of a whole group (8 rows).
  size_t block_group_bytes() const { return block_group_bytes_; }
  const uint8_t* group(uint64_t g) const { return data_.get() + g * blocks_per_row() * block_group_bytes_; }
  const uint8_t* block_group(uint64_t g, uint64_t b) const { return group(g) + b * block_group_bytes_; }
  // Quant bytes per row per block: 16 (Q4_0) or 32 (Q8_0); chunks of 4 bytes per block: 4 or 8.
  size_t quant_bytes() const { return quant_bytes_; }

  // Row r's block b in its original GGUF form (2-byte scale, then quants), for tests and twins.
  void original_block(uint64_t r, uint64_t b, uint8_t* out) const;

 private:
  DType type_;
  uint64_t rows_, cols_;
  size_t quant_bytes_, block_group_bytes_;
  hwy::AlignedFreeUniquePtr<uint8_t[]> data_;
};

// y[t * ldy + r] = sum_c W[r][c] * x[t][c] for rows r in [r0, r1) and every packed row t, as
// matmul_packed() does for the original matrix (same per-block arithmetic, same tolerance).
// x.weight_type() must equal w.type(), x.cols() w.cols(). Threads may compute disjoint row
// ranges concurrently; ranges starting at multiples of 8 do not share a group (fastest).
void matmul_interleaved(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                        uint64_t r1);
void matmul_interleaved_scalar(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy,
                               uint64_t r0, uint64_t r1);

}  // namespace lmforge
