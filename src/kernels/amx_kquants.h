// K-quant weights (Q3_K, Q4_K, Q5_K, Q6_K) times prompt chunks on AMX-INT8 tiles, with the integer
// K-quant kernels' arithmetic (matmul_kquants.h): llama.cpp's Q8_K activations, exact int32
// sums with the sub-block scales, then the float scaling per 256-input super-block.
//
// Per weight row and super-block the integer kernels form
//   sumi = sum_g scale_g * sum_{j in g} q_j x_j      summ = sum_g min_g * xsum_g
// and add d_x * (d * float(sumi) - dmin * float(summ)). A tile instruction (TDPBSSD) only sums
// products of int8, and scale_g * q_j does not fit in 8 bits (Q4_K up to 15 * 63), so the
// decoder folds the scale into the code (Q3_K/Q6_K: their -4/-32 offsets too) and splits the
// product in two int8 halves:
//   w_j = scale_g * q_j = 64 * hi_j + lo_j,   lo_j = w_j & 63 (0..63),  hi_j = w_j >> 6,
// and sumi = 64 * (hi . x) + (lo . x) exactly, in int32 (|sumi| <= 2^27). With the scale folded
// in, the scales' granularity no longer matters (Q6_K's 16-input scales cost nothing extra)
// and one tile instruction covers 64 inputs. The mins term (Q4_K/Q5_K) is an exact integer
// too, from the activations' 32-input sums, in AVX-512; the float steps are those of
// matmul_packed_kquant_scalar() in the same order, without fused multiply-adds, so results are
// bit-identical to that scalar twin (the SIMD kernels of matmul_kquants.cpp add the same
// integers in 8 lanes, so they differ from both by float rounding).
//
// matmul_amx_kquants_scalar() is the plain C++ twin of the tile path: the same fold and split
// from the quant layer's reference block decoder, summed in the same order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/matmul.h"

namespace lmforge {

// Whether matmul_amx_kquants() multiplies weights of type t (Q3_K, Q4_K, Q5_K, Q6_K; Q2_K's
// mins come per 16 inputs, which the activations' 32-input sums do not serve).
bool amx_kquant_int8(DType t);

// The Q8_K activations of a K-quant product (PackedActivations, is_super_blocks()) laid out as
// the tiles' B operand. Per token tile j (16 tokens) and super-block b:
//   codes: 4 steps of 64 inputs, each 16 rows (4 inputs each) x 16 tokens x 4 int8 (1 KiB);
//   scales: the 16 tokens' d;
//   sums: 4 pairs of 32-input sums (sub-blocks 2p and 2p + 1) x 16 tokens, int16.
// Padding tokens (up to a multiple of 32) have zero codes, scales and sums.
class AmxKquantActivations {
 public:
  static constexpr size_t kTileTokens = 16;
  static constexpr size_t kSuperBlock = 256;
  static constexpr size_t kBlockCodes = 4 * 1024;  // bytes of codes per (token tile, super-block)
  static constexpr size_t kBlockSums = 4 * 32;     // int16 sums per (token tile, super-block)

  AmxKquantActivations() = default;
  AmxKquantActivations(const AmxKquantActivations&) = delete;  // codes_ points into storage_
  AmxKquantActivations& operator=(const AmxKquantActivations&) = delete;

  // Sizes the buffers for n tokens of `cols` inputs (a multiple of 256), zeroed. Reuses memory.
  void reset(size_t n, uint64_t cols);
  // Tokens [t0, t1) of p (same n and cols, the K-quant form). Threads may pack disjoint ranges.
  void pack_from(const PackedActivations& p, size_t t0, size_t t1);

  size_t n() const { return n_; }
  uint64_t cols() const { return cols_; }
  uint64_t super_blocks() const { return nk_; }
  size_t token_tiles() const { return tiles_; }  // ceil(n / 32) * 2: tiles go in pairs
  const int8_t* codes() const { return codes_; }
  const float* scales() const { return scales_.data(); }
  const int16_t* sums() const { return sums_.data(); }
  // Token t's input k, its super-block's d, and the sum of its 32-input sub-block s (0..7) of
  // super-block b: for tests and the twin.
  int8_t code(size_t t, uint64_t k) const;
  float scale(size_t t, uint64_t b) const;
  int16_t sum32(size_t t, uint64_t b, size_t s) const;

 private:
  size_t n_ = 0, tiles_ = 0;
  uint64_t cols_ = 0, nk_ = 0;
  std::vector<int8_t> storage_;
  int8_t* codes_ = nullptr;  // storage_ rounded up to 64 bytes: a tile row is one cache line
  std::vector<float> scales_;
  std::vector<int16_t> sums_;
};

// y[t * ldy + r] for rows r in [r0, r1) and every token t of x: row r of w (Q3_K...Q6_K, as
// in the file) times token t, with the arithmetic described above. x.cols() == w.cols.
// Threads may compute disjoint row ranges concurrently. Falls back to the twin where
// amx_usable() is false.
void matmul_amx_kquants(const MatrixView& w, const AmxKquantActivations& x, float* y, size_t ldy, uint64_t r0,
                        uint64_t r1);
void matmul_amx_kquants_scalar(const MatrixView& w, const AmxKquantActivations& x, float* y, size_t ldy, uint64_t r0,
                               uint64_t r1);

}  // namespace lmforge
