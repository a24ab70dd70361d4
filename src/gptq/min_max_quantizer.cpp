#include "gptq/min_max_quantizer.h"

#include <algorithm>

namespace lmforge {

GridParams min_max_grid(const float* x, size_t n, size_t stride, int bits, bool sym) {
  float xmin = 0.0f, xmax = 0.0f;  // starting from 0 puts 0 inside the range
  for (size_t i = 0; i < n; ++i) {
    xmin = std::min(xmin, x[i * stride]);
    xmax = std::max(xmax, x[i * stride]);
  }
  if (sym) {
    xmax = std::max(std::fabs(xmin), xmax);
    if (xmin < 0.0f) xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  const int maxq = max_code(bits);
  GridParams p;
  p.scale = (xmax - xmin) / static_cast<float>(maxq);
  p.zero = sym ? static_cast<float>(maxq + 1) / 2.0f : std::nearbyint(-xmin / p.scale);
  return p;
}

}  // namespace lmforge
