// Fast (Highway, runtime-dispatched) float32 vector operations of the forward pass, each with a
// `_scalar` twin of the same contract that the tests compare against. Sums accumulate in float
// (several lanes, then a horizontal add), unlike the double-precision references in ops_ref.h.
#pragma once

#include <cstddef>

namespace lmforge {

// sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, size_t n);
float dot_f32_scalar(const float* a, const float* b, size_t n);

// y[i] += a * x[i]
void axpy_f32(float a, const float* x, float* y, size_t n);
void axpy_f32_scalar(float a, const float* x, float* y, size_t n);

// y[i] += x[i]
void add_f32(const float* x, float* y, size_t n);
void add_f32_scalar(const float* x, float* y, size_t n);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]; out may alias x.
void rms_norm_f32(const float* x, const float* w, float* out, size_t n, float eps);
void rms_norm_f32_scalar(const float* x, const float* w, float* out, size_t n, float eps);

// In place: x[i] = exp(x[i] - max) / sum; returns nothing, n >= 1.
void softmax_f32(float* x, size_t n);
void softmax_f32_scalar(float* x, size_t n);

// out[i] = silu(g[i]) * u[i], silu(v) = v / (1 + exp(-v)); out may alias g or u.
void swiglu_f32(const float* g, const float* u, float* out, size_t n);
void swiglu_f32_scalar(const float* g, const float* u, float* out, size_t n);

}  // namespace lmforge
