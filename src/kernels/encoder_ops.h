// Vector operations of encoder models (BERT): LayerNorm with bias and the exact (erf) GELU,
// Highway versions picked at run time, each with a `_scalar` twin of the same contract and the
// same arithmetic that the tests compare against (tests/kernels/encoder_ops_test.cpp), and both
// against double-precision math.
//
// erf has no Highway op (1.0.3), so both forms evaluate the same approximation: for |z| < 0.5
// the Maclaurin series of erf to z^13 (terms beyond are < 2e-9 relative), else erfc(z) by the
// classic Chebyshev-fitted form t * exp(-z^2 - 1.26551223 + t * P(t)), t = 1 / (1 + z / 2),
// whose relative error is below 1.2e-7. GELU is assembled from erfc directly for x < 0
// (0.5 x erfc(|x|/sqrt 2)), so its tail keeps relative accuracy instead of cancelling 1 - erf.
#pragma once

#include <cstddef>

namespace lmforge {

// out[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i], mean and (biased) variance of x over
// n elements, summed in float (two passes: mean, then squared deviations); out may alias x.
void layer_norm_f32(const float* x, const float* w, const float* b, float* out, size_t n, float eps);
void layer_norm_f32_scalar(const float* x, const float* w, const float* b, float* out, size_t n, float eps);

// out[i] = x[i] / 2 * (1 + erf(x[i] / sqrt 2)), PyTorch's GELU(approximate="none") and Hugging
// Face's "gelu"; out may alias x.
void gelu_erf_f32(const float* x, float* out, size_t n);
void gelu_erf_f32_scalar(const float* x, float* out, size_t n);

}  // namespace lmforge
