// matmul_amx_f16_scalar (kernels/amx_f16.h): the F16 tile product's arithmetic in plain C++,
// weights decoded through core/half.h, for the tests to compare the tiles against. (Its own file
// beside amx_matmul_scalar.cpp: the two twins share nothing but the bf16 rounding.)
#include <cstring>
#include <vector>

#include "core/half.h"
#include "kernels/amx_f16.h"
#include "kernels/amx_matmul.h"

namespace lmforge {

void matmul_amx_f16_scalar(const MatrixView& w, const AmxF16Activations& x, float* y, size_t ldy, uint64_t r0,
                           uint64_t r1) {
  const uint64_t cols = w.cols;
  std::vector<double> w_hi(cols), w_lo(cols), w_lo2(cols);
  for (uint64_t r = r0; r < r1; ++r) {
    for (uint64_t c = 0; c < cols; ++c) {
      float v;
      if (w.type == DType::F32) {
        std::memcpy(&v, w.row(r) + 4 * c, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, w.row(r) + 2 * c, 2);
        v = fp16_to_fp32(h);  // an F16 value: its third part is 0
      }
      const Bf16Triple p = split_bf16_3(v);
      w_hi[c] = bf16_to_float(p.hi);
      w_lo[c] = bf16_to_float(p.mid);
      w_lo2[c] = bf16_to_float(p.lo);
    }
    for (size_t t = 0; t < x.n(); ++t) {
      double sum = 0;
      for (uint64_t c = 0; c < cols; ++c) {
        const Bf16Triple v = x.at(t, c);
        const double x_hi = bf16_to_float(v.hi), x_mid = bf16_to_float(v.mid), x_lo = bf16_to_float(v.lo);
        // The tiles' five products (six for F32: w_lo2 x_hi); the smaller ones are left out.
        sum += w_hi[c] * (x_hi + x_mid + x_lo) + w_lo[c] * (x_hi + x_mid) + w_lo2[c] * x_hi;
      }
      y[t * ldy + r] = static_cast<float>(sum);
    }
  }
}

}  // namespace lmforge
