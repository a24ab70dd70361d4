#include "core/half.h"

#include <memory>

namespace lmforge {

const float* fp16_to_fp32_table() {
  static const std::unique_ptr<float[]> table = [] {
    std::unique_ptr<float[]> t(new float[65536]);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = fp16_to_fp32(static_cast<uint16_t>(h));
    return t;
  }();
  return table.get();
}

}  // namespace lmforge
