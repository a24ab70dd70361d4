#include "quant/gptq_matrix.h"

namespace lmforge {

void GptqMatrix::dequantize_row(uint64_t o, float* row) const {
  for (uint64_t i = 0; i < in; ++i) {
    const uint32_t g = g_idx[i];
    row[i] = scale(g, o) * static_cast<float>(int{code(o, i)} - zero(g, o));
  }
}

bool GptqMatrix::sequential_groups(uint64_t group_size) const {
  for (uint64_t i = 0; i < in; ++i)
    if (g_idx[i] != i / group_size) return false;
  return true;
}

}  // namespace lmforge
