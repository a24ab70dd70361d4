#include "arch/llama/llama_rope_scaling.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace lmforge {

std::vector<float> llama3_rope_freq_factors(const Llama3RopeScaling& s, float rope_theta, uint32_t head_dim,
                                            const std::string& file) {
  if (!(s.factor > 0) || !std::isfinite(s.factor)) fail(file, "llama3 rope_scaling 'factor' must be positive");
  if (!(s.low_freq_factor > 0) || !std::isfinite(s.high_freq_factor) || !(s.high_freq_factor > s.low_freq_factor))
    fail(file, "llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor");
  if (s.original_max_position_embeddings == 0)
    fail(file, "llama3 rope_scaling 'original_max_position_embeddings' must be positive");
  if (head_dim == 0 || head_dim % 2 != 0) fail(file, "llama3 rope_scaling needs an even head dimension");
  const double context = s.original_max_position_embeddings;
  const double low_wavelen = context / s.low_freq_factor, high_wavelen = context / s.high_freq_factor;
  std::vector<float> out(head_dim / 2);
  for (uint32_t i = 0; i < head_dim / 2; ++i) {
    // The frequency as transformers computes it, in float32.
    const float freq = 1.0f / std::pow(rope_theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < high_wavelen) {
      out[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      out[i] = s.factor;
    } else {
      const double smooth = (context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out[i] = static_cast<float>(1.0 / ((1.0 - smooth) / s.factor + smooth));
    }
  }
  return out;
}

}  // namespace lmforge
