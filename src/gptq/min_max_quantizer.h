// GPTQ's weight quantizer (the paper's and AutoGPTQ's `Quantizer` with perchannel=True,
// weight=True, mse=False): per output row, over the columns of one group, a uniform grid of
// 2^bits levels chosen from the minimum and maximum.
//
//   xmin = min(min(x), 0), xmax = max(max(x), 0)        the range always contains 0
//   sym:  xmax = max(|xmin|, xmax); xmin = -xmax where xmin < 0
//   xmin == xmax == 0: the range [-1, 1]
//   scale = (xmax - xmin) / maxq                         maxq = 2^bits - 1
//   zero  = (maxq + 1) / 2 (sym) or round(-xmin / scale) (asym)
//   code  = clamp(round(x / scale) + zero, 0, maxq)      round half to even, as torch.round
//   value = scale * (code - zero)
//
// Everything in float32 in the order written above, so that the codes match the PyTorch
// implementation operation for operation.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace lmforge {

struct GridParams {
  float scale = 1;
  float zero = 0;  // an integer in [0, maxq]
};

inline int max_code(int bits) { return (1 << bits) - 1; }

// Parameters for values x[0], x[stride], ..., x[(n - 1) * stride].
GridParams min_max_grid(const float* x, size_t n, size_t stride, int bits, bool sym);

inline uint8_t grid_code(float x, const GridParams& p, int maxq) {
  float q = std::nearbyint(x / p.scale) + p.zero;
  if (q < 0.0f) q = 0.0f;
  if (q > static_cast<float>(maxq)) q = static_cast<float>(maxq);
  return static_cast<uint8_t>(q);
}

inline float grid_value(uint8_t code, const GridParams& p) { return p.scale * (static_cast<float>(code) - p.zero); }

}  // namespace lmforge
