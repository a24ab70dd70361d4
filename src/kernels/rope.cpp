#include "kernels/rope.h"

#include <cmath>

namespace lmforge {

void rope_norm_ref(float* x, size_t n_heads, size_t head_dim, double pos, float base, float scale_factor,
                   const float* freq_factors) {
  const double p = pos / scale_factor;
  for (size_t i = 0; 2 * i + 1 < head_dim; ++i) {
    double theta = p * std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    if (freq_factors) theta /= freq_factors[i];
    const float c = static_cast<float>(std::cos(theta)), s = static_cast<float>(std::sin(theta));
    for (size_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim + 2 * i;
      const float x0 = v[0], x1 = v[1];
      v[0] = x0 * c - x1 * s;
      v[1] = x0 * s + x1 * c;
    }
  }
}

void rope_angles(double pos, size_t head_dim, float base, float scale_factor, float* cos_out, float* sin_out,
                 const float* freq_factors) {
  const double p_scale = 1.0 / scale_factor;
  for (size_t i = 0; i < head_dim / 2; ++i) {
    double theta = pos * p_scale * std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    if (freq_factors) theta /= freq_factors[i];
    cos_out[i] = static_cast<float>(std::cos(theta));
    sin_out[i] = static_cast<float>(std::sin(theta));
  }
}

void rope_apply_f32(float* x, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in) {
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (size_t i = 0; i < half; ++i) {
      const float x0 = head[2 * i], x1 = head[2 * i + 1];
      head[2 * i] = x0 * cos_in[i] - x1 * sin_in[i];
      head[2 * i + 1] = x0 * sin_in[i] + x1 * cos_in[i];
    }
  }
}

void rope_neox_ref(float* x, size_t n_heads, size_t head_dim, double pos, float base, float scale_factor,
                   const float* freq_factors) {
  const double p = pos / scale_factor;
  const size_t half = head_dim / 2;
  for (size_t i = 0; i < half; ++i) {
    double theta = p * std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    if (freq_factors) theta /= freq_factors[i];
    const float c = static_cast<float>(std::cos(theta)), s = static_cast<float>(std::sin(theta));
    for (size_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      const float x0 = v[i], x1 = v[i + half];
      v[i] = x0 * c - x1 * s;
      v[i + half] = x0 * s + x1 * c;
    }
  }
}

void rope_apply_neox_f32(float* x, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in) {
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (size_t i = 0; i < half; ++i) {
      const float x0 = head[i], x1 = head[i + half];
      head[i] = x0 * cos_in[i] - x1 * sin_in[i];
      head[i + half] = x0 * sin_in[i] + x1 * cos_in[i];
    }
  }
}

}  // namespace lmforge
