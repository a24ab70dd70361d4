// Scalar reference versions of the small operations of the llama forward pass.
//
// Values are float32; sums (dot products, the mean square of RMSNorm, the softmax
// denominator) are accumulated in double so that the reference is insensitive to summation
// order and the SIMD kernels, which accumulate in float, can be measured against it.
#pragma once

#include <cstddef>

namespace lmforge {

// sum_i a[i] * b[i], accumulated in double, rounded once to float.
float dot_ref(const float* a, const float* b, size_t n);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]; out may alias x.
void rms_norm_ref(const float* x, const float* w, float* out, size_t n, float eps);

// RoPE and attention have their own files: kernels/rope.h, kernels/attention.h.

// In-place softmax of x[0..n): max subtracted first so exp never overflows.
void softmax_ref(float* x, size_t n);

// silu(g[i]) * u[i] into out (SwiGLU's elementwise part); silu(v) = v / (1 + e^-v).
void swiglu_ref(const float* g, const float* u, float* out, size_t n);

}  // namespace lmforge
