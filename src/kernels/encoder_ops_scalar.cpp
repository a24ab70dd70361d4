// Plain C++ twins of the encoder operations (encoder_ops.cpp): the same formulas and constants,
// float arithmetic in element order, libm exp.
#include <cmath>

#include "kernels/encoder_ops.h"
#include "kernels/encoder_ops_constants.h"

namespace lmforge {

void layer_norm_f32_scalar(const float* x, const float* w, const float* b, float* out, size_t n, float eps) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(n);
  float ss = 0.0f;
  for (size_t i = 0; i < n; ++i) ss += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv * w[i] + b[i];
}

namespace {

float gelu_one(float x) {
  using namespace encoder_ops;
  const float z = std::fabs(x) * kInvSqrt2;
  float p;  // 1 + erf(x / sqrt 2)
  if (z < kSeriesLimit) {
    const float z2 = z * z;
    float s = kErfSeries[kErfSeriesTerms - 1];
    for (int k = kErfSeriesTerms - 2; k >= 0; --k) s = s * z2 + kErfSeries[k];
    const float e = s * z;
    p = x < 0 ? 1.0f - e : 1.0f + e;
  } else {
    const float zc = z < kErfcClamp ? z : kErfcClamp;
    const float t = 1.0f / (1.0f + 0.5f * zc);
    float poly = kErfcPoly[kErfcPolyTerms - 1];
    for (int k = kErfcPolyTerms - 2; k >= 0; --k) poly = poly * t + kErfcPoly[k];
    const float c = t * std::exp(-zc * zc + poly);
    p = x < 0 ? c : 2.0f - c;
  }
  return 0.5f * x * p;
}

}  // namespace

void gelu_erf_f32_scalar(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = gelu_one(x[i]);
}

}  // namespace lmforge
