// The plain C++ twin of the K-quant AMX product (kernels/amx_kquants.h): the weights from the
// quant layer's reference block decoder (kquant_blocks.h), each code times its scale split as
// 64 * hi + lo, the two int8 halves dotted with the activations' codes as the tiles do, and the
// same float steps in the same order.
#include "kernels/amx_kquants.h"
#include "kernels/kquant_blocks.h"

namespace lmforge {

void matmul_amx_kquants_scalar(const MatrixView& w, const AmxKquantActivations& x, float* y, size_t ldy, uint64_t r0,
                               uint64_t r1) {
  const uint64_t nk = x.super_blocks();
  const size_t bytes = kquant_block_bytes(w.type);
  const bool mins = w.type == DType::Q4_K || w.type == DType::Q5_K;  // Q3_K/Q6_K fold their offsets into q
  KQuantBlock blk;
  int8_t hi[256], lo[256];
  for (uint64_t r = r0; r < r1; ++r) {
    std::vector<float> acc(x.n(), 0.0f);
    for (uint64_t b = 0; b < nk; ++b) {
      decode_kquant_block(w.type, w.row(r) + b * bytes, blk);
      for (size_t j = 0; j < 256; ++j) {
        const int v = blk.q[j] * blk.scale[j / 16];
        hi[j] = static_cast<int8_t>(v >> 6);  // arithmetic shift: floor(v / 64)
        lo[j] = static_cast<int8_t>(v & 63);
      }
      for (size_t t = 0; t < x.n(); ++t) {
        int32_t dot_hi = 0, dot_lo = 0;
        for (size_t j = 0; j < 256; ++j) {
          const int32_t c = x.code(t, b * 256 + j);
          dot_hi += hi[j] * c;
          dot_lo += lo[j] * c;
        }
        const int32_t sumi = 64 * dot_hi + dot_lo;
        float v = blk.d * static_cast<float>(sumi);
        if (mins) {
          // Q4_K/Q5_K: one min per 32 inputs (the decoder repeats it for both 16-input halves).
          int32_t summ = 0;
          for (size_t s = 0; s < 8; ++s) summ += blk.min[2 * s] * x.sum32(t, b, s);
          v = v - blk.dmin * static_cast<float>(summ);
        }
        acc[t] = acc[t] + x.scale(t, b) * v;
      }
    }
    for (size_t t = 0; t < x.n(); ++t) y[t * ldy + r] = acc[t];
  }
}

}  // namespace lmforge
