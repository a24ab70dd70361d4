// Fast matrix products for the forward pass: W (weights, any type the engine runs, viewed in
// place in the model file) times a batch of activation rows, with Highway runtime dispatch
// (AVX2 / AVX-512 / AVX-512 VNNI, scalar fallback).
//
// Activations are packed once per product into the form the weight type's kernel reads: float
// rows for F32/F16/BF16 weights, 8-bit blocks for Q8_0/Q4_0 weights (as llama.cpp does, so the
// inner loop is an integer dot product). Packing is separate so that several matrices reading
// the same input (Wq, Wk, Wv; Wgate, Wup) share it, and so that threads can split the work:
// pack_rows() over token ranges, matmul_packed() over weight-row ranges.
//
// Every function has a `_scalar` twin with the same signature and contract, plain C++, which
// the tests compare the dispatched version against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "hwy/aligned_allocator.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

// The weight types matmul_packed() supports (kernels/weight_types.cpp: F32, F16, BF16, Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1, Q2_K...Q6_K).
bool matmul_supports(DType weight_type);

// A batch of n activation rows of `cols` floats, packed for weights of one type.
class PackedActivations {
 public:
  // Sizes the buffer for `n` rows of `cols` elements to be multiplied by weights of type
  // `weight_type`. `cols` must be a multiple of the weight type's block size. Reuses memory.
  void reset(DType weight_type, size_t n, uint64_t cols);
  // Packs rows [t0, t1) of x (row t at x + t * ldx). Threads may pack disjoint ranges.
  void pack_rows(const float* x, size_t ldx, size_t t0, size_t t1);
  void pack_rows_scalar(const float* x, size_t ldx, size_t t0, size_t t1);

  DType weight_type() const { return weight_type_; }
  size_t n() const { return n_; }
  uint64_t cols() const { return cols_; }
  size_t row_bytes() const { return row_bytes_; }
  const uint8_t* row(size_t t) const { return data_.get() + t * row_bytes_; }
  uint8_t* row(size_t t) { return data_.get() + t * row_bytes_; }

  // Layout of one packed row (every row starts 64-byte aligned; row_bytes() is a multiple of 64):
  //   F32/F16/BF16 weights: float x[cols].
  //   Q8_0/Q4_0 (and Q4_1/Q5_0/Q5_1) weights, nb = cols / 32 blocks:
  //     int8 q[nb * 32]   block b holds q[32b .. 32b+31] = round-to-nearest-even(x / d_b)
  //     float d[nb]       d_b = fp16-rounded amax_b / 127 (as llama.cpp's Q8_0 activations)
  //     float s[nb]       sum of block b's 32 q values, exact; turns Q4_0's "-8" offset into
  //                       one multiply per block: sum (n - 8) q = sum n q - 8 s (and
  //                       Q5_0's offset into -16 s).
  //                       Q4_1/Q5_1 weights (scaled_sums()): s = fp16(amax_b / 127 * sum of
  //                       q) instead, llama.cpp's Q8_1 "s", which their minimum multiplies.
  //   Q2_K...Q6_K weights (form kInt8SuperBlocks, llama.cpp's Q8_K; matmul_kquants.h):
  //     int8 q[cols]      codes, nk = cols / 256 super-blocks
  //     float d[nk]       at block_scales(): q[256k + j] * d[k] ~ x[256k + j]
  //     int16 sums[cols / 16]  at group_sums(): exact sum of each 16 consecutive codes
  const float* floats(size_t t) const { return reinterpret_cast<const float*>(row(t)); }
  const int8_t* quants(size_t t) const { return reinterpret_cast<const int8_t*>(row(t)); }
  const float* block_scales(size_t t) const { return reinterpret_cast<const float*>(row(t) + scales_offset_); }
  const float* block_sums(size_t t) const { return block_scales(t) + cols_ / 32; }
  float* floats(size_t t) { return reinterpret_cast<float*>(row(t)); }
  int8_t* quants(size_t t) { return reinterpret_cast<int8_t*>(row(t)); }
  float* block_scales(size_t t) { return reinterpret_cast<float*>(row(t) + scales_offset_); }
  float* block_sums(size_t t) { return block_scales(t) + cols_ / 32; }
  const int16_t* group_sums(size_t t) const { return reinterpret_cast<const int16_t*>(block_scales(t) + cols_ / 256); }
  int16_t* group_sums(size_t t) { return reinterpret_cast<int16_t*>(block_scales(t) + cols_ / 256); }
  // True for the K-quant form (256-element blocks, group sums), false for the forms above.
  bool is_super_blocks() const { return super_blocks_; }
  // True when rows hold 8-bit codes (Q8_0/Q4_0 or K-quant weights), false when they hold floats.
  bool is_quantized() const { return quantized_; }
  // True when block_sums() hold llama.cpp's Q8_1 sums (see the layout above).
  bool scaled_sums() const { return scaled_sums_; }

 private:
  DType weight_type_ = DType::F32;
  size_t n_ = 0;
  uint64_t cols_ = 0;
  size_t row_bytes_ = 0;
  size_t scales_offset_ = 0;
  bool quantized_ = false;
  bool scaled_sums_ = false;
  bool super_blocks_ = false;
  size_t capacity_ = 0;
  hwy::AlignedFreeUniquePtr<uint8_t[]> data_;  // 64-byte aligned rows (row_bytes_ rounded up)
};

// Quantizes one activation row of `cols` floats (a multiple of 32) into the Q8_0/Q4_0 packed
// form above, exactly as pack_rows_scalar does: q (cols bytes), d and s (cols / 32 floats each);
// with scaled_sums, s is llama.cpp's Q8_1 sum fp16(amax / 127 * sum q).
void quantize_activation_row_scalar(const float* x, uint64_t cols, int8_t* q, float* d, float* s,
                                    bool scaled_sums = false);

// y[t * ldy + r] = sum_c W[r][c] * x[t][c] for weight rows r in [r0, r1) and every packed row t.
// w.type must equal x.weight_type() and w.cols x.cols(). Threads may compute disjoint row
// ranges of the same product concurrently.
void matmul_packed(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1);
void matmul_packed_scalar(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                          uint64_t r1);

// The instruction set the dispatcher picked on this machine ("AVX2", "AVX3", "EMU128", ...), for
// logs and benchmarks.
const char* matmul_target_name();

}  // namespace lmforge
