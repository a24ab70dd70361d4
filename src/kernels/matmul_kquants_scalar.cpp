// Plain C++ twins of the K-quant products (matmul_kquants.cpp) and the Q8_K-style activation
// packing both share. Per super-block the twin forms the exact integer sums
//   sumi = sum_g scale_g * sum_{j in g} q_j x_j      summ = sum_g min_g * sums_g
// (groups of 16 codes) and adds d_x * (d * sumi - dmin * summ) to one float accumulator, in
// super-block order. The tests hold the SIMD kernels against this, and this against matmul_ref.
#include <cstring>

#include "kernels/kquant_blocks.h"
#include "kernels/matmul_kquants.h"

namespace lmforge {

namespace {

float dot_row_kquant(DType type, const uint8_t* w, const int8_t* q, const float* d, const int16_t* sums,
                     uint64_t nk) {
  const size_t bytes = kquant_block_bytes(type);
  KQuantBlock blk;
  float acc = 0.0f;
  for (uint64_t k = 0; k < nk; ++k, w += bytes, q += kSuperBlock, sums += kSuperBlock / kSumGroup) {
    decode_kquant_block(type, w, blk);
    int32_t sumi = 0, summ = 0;
    for (size_t g = 0; g < kSuperBlock / kSumGroup; ++g) {
      int32_t s = 0;
      for (size_t j = 0; j < kSumGroup; ++j) s += blk.q[g * kSumGroup + j] * q[g * kSumGroup + j];
      sumi += blk.scale[g] * s;
      summ += blk.min[g] * sums[g];
    }
    acc += d[k] * (blk.d * static_cast<float>(sumi) - blk.dmin * static_cast<float>(summ));
  }
  return acc;
}

}  // namespace

bool is_kquant_weight(DType t) { return kquant_block_bytes(t) != 0; }

void quantize_activation_row_k_scalar(const float* x, uint64_t cols, int8_t* q, float* d, int16_t* sums) {
  for (uint64_t k = 0; k < cols / kSuperBlock; ++k, x += kSuperBlock, q += kSuperBlock) {
    // The value of largest magnitude, sign kept (the first of equal magnitudes; NaN never wins).
    float amax = 0.0f, max = 0.0f;
    for (size_t j = 0; j < kSuperBlock; ++j) {
      const float a = x[j] < 0 ? -x[j] : x[j];
      if (a > amax) {
        amax = a;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      d[k] = 0.0f;
      std::memset(q, 0, kSuperBlock);
      std::memset(sums + k * (kSuperBlock / kSumGroup), 0, (kSuperBlock / kSumGroup) * sizeof(int16_t));
      continue;
    }
    // As llama.cpp: iscale = -127 / max, q = min(127, nearest(iscale * x)), d = 1 / iscale.
    const float iscale = -127.0f / max;
    for (size_t j = 0; j < kSuperBlock; ++j) {
      // |iscale * x| <= 127 (up to rounding) for finite x; NaN or infinite inputs get 0, not a
      // wrapped code (llama.cpp leaves them undefined).
      const float r = iscale * x[j];
      int v = r >= -127.5f && r <= 127.5f ? nearest_int(r) : 0;
      if (v > 127) v = 127;
      q[j] = static_cast<int8_t>(v);
    }
    for (size_t g = 0; g < kSuperBlock / kSumGroup; ++g) {
      int s = 0;
      for (size_t j = 0; j < kSumGroup; ++j) s += q[g * kSumGroup + j];
      sums[k * (kSuperBlock / kSumGroup) + g] = static_cast<int16_t>(s);
    }
    d[k] = 1.0f / iscale;
  }
}

void pack_rows_kquant_scalar(PackedActivations& p, const float* x, size_t ldx, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; ++t)
    quantize_activation_row_k_scalar(x + t * ldx, p.cols(), p.quants(t), p.block_scales(t), p.group_sums(t));
}

void matmul_packed_kquant_scalar(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                                 uint64_t r1) {
  const uint64_t nk = w.cols / kSuperBlock;
  for (size_t t = 0; t < x.n(); ++t)
    for (uint64_t r = r0; r < r1; ++r)
      y[t * ldy + r] = dot_row_kquant(w.type, w.row(r), x.quants(t), x.block_scales(t), x.group_sums(t), nk);
}

}  // namespace lmforge
