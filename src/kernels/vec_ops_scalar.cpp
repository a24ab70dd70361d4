// Plain C++ twins of the Highway vector operations (vec_ops.cpp): float accumulation in element
// order, libm exp.
#include <cmath>

#include "kernels/vec_ops.h"

namespace lmforge {

float dot_f32_scalar(const float* a, const float* b, size_t n) {
  float acc = 0.0f;
  for (size_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

void axpy_f32_scalar(float a, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void add_f32_scalar(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += x[i];
}

void rms_norm_f32_scalar(const float* x, const float* w, float* out, size_t n, float eps) {
  float ss = 0.0f;
  for (size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void softmax_f32_scalar(float* x, size_t n) {
  float max = x[0];
  for (size_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (size_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu_f32_scalar(const float* g, const float* u, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float v = g[i];
    out[i] = v / (1.0f + std::exp(-v)) * u[i];
  }
}

}  // namespace lmforge
