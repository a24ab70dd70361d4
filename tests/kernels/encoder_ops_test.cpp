// The encoder operations (LayerNorm, erf GELU) on every compiled SIMD target against their
// scalar twins, and both against double-precision math (std::erf in double).
#include "kernels/encoder_ops.h"

#include <cmath>
#include <limits>

#include "kernel_test_util.h"

namespace lmforge {
namespace {

using test::for_each_target;
using test::random_floats;

constexpr double kU = 5.97e-8;  // float unit roundoff 2^-24
const std::vector<size_t> kSizes = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 257, 384, 768, 4099};

void layer_norm_double(const float* x, const float* w, const float* b, double* out, size_t n, double eps) {
  double mean = 0, var = 0;
  for (size_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv * w[i] + b[i];
}

// Through erfc, which keeps its relative accuracy in the negative tail where 1 + erf cancels.
double gelu_double(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }

TEST(EncoderOpsTest, LayerNormMatchesTwinAndDouble) {
  for_each_target([&](const std::string& target) {
    for (size_t n : kSizes) {
      // An offset mean, as real hidden states have, so that the two-pass variance matters.
      auto x = random_floats(n, 11 + n, 3.0f);
      for (auto& v : x) v += 5.0f;
      const auto w = random_floats(n, 12 + n), b = random_floats(n, 13 + n);
      std::vector<float> a(n), s(n);
      std::vector<double> r(n);
      layer_norm_f32(x.data(), w.data(), b.data(), a.data(), n, 1e-12f);
      layer_norm_f32_scalar(x.data(), w.data(), b.data(), s.data(), n, 1e-12f);
      layer_norm_double(x.data(), w.data(), b.data(), r.data(), n, 1e-12);
      // Mean and variance carry relative errors of a few n u (the mean's error also shifts
      // every deviation); the normalised value's error is bounded by that times |w| plus b's
      // rounding.
      for (size_t i = 0; i < n; ++i) {
        const double bound = (4.0 * n + 16) * kU * (std::fabs(w[i]) * 4.0 + std::fabs(b[i])) + 1e-30;
        EXPECT_NEAR(a[i], r[i], bound) << target << " n=" << n << " i=" << i;
        EXPECT_NEAR(s[i], r[i], bound) << "scalar n=" << n << " i=" << i;
      }
      auto y = x;  // in place
      layer_norm_f32(y.data(), w.data(), b.data(), y.data(), n, 1e-12f);
      EXPECT_EQ(y, a) << target << " n=" << n;
    }
  });
}

TEST(EncoderOpsTest, LayerNormOfAConstantRowIsTheBias) {
  for_each_target([&](const std::string& target) {
    const size_t n = 37;
    const std::vector<float> x(n, 2.5f), w(n, 3.0f);
    const auto b = random_floats(n, 7);
    std::vector<float> a(n);
    layer_norm_f32(x.data(), w.data(), b.data(), a.data(), n, 1e-5f);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(a[i], b[i]) << target << " " << i;
  });
}

double gelu_bound(float x, double r) { return (6e-7 + 1.5e-7 * double{x} * x) * std::fabs(r) + 1e-37; }

// Every input from -12 to 12 in small steps, plus random ones and the special values.
std::vector<float> gelu_inputs() {
  std::vector<float> x;
  for (int i = -12000; i <= 12000; ++i) x.push_back(static_cast<float>(i) * 1e-3f);
  for (float v : random_floats(1001, 99, 3.0f)) x.push_back(v);
  for (float v : {0.4999999f, 0.5f * 1.41421356f, -0.70710677f, 1e-30f, -1e-30f, 30.0f, -30.0f, 1e30f, -1e30f})
    x.push_back(v);
  return x;
}

TEST(EncoderOpsTest, GeluMatchesTwinAndErf) {
  const auto x = gelu_inputs();
  const size_t n = x.size();
  std::vector<float> s(n);
  gelu_erf_f32_scalar(x.data(), s.data(), n);
  for (size_t i = 0; i < n; ++i) {
    const double r = gelu_double(x[i]);
    // erfc's fit is good to 1.2e-7 relative and the series to ~1e-9; a few roundings on top.
    // In the negative tail exp(-z^2) amplifies the rounding of z^2 (relative error ~ z^2 u).
    EXPECT_NEAR(s[i], r, gelu_bound(x[i], r)) << "scalar x=" << x[i];
  }
  for_each_target([&](const std::string& target) {
    std::vector<float> a(n);
    gelu_erf_f32(x.data(), a.data(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(a[i], s[i], gelu_bound(x[i], s[i])) << target << " x=" << x[i];
    for (size_t len : kSizes) {  // tails, and in place
      std::vector<float> y(x.begin(), x.begin() + len), z(len);
      gelu_erf_f32(y.data(), z.data(), len);
      gelu_erf_f32(y.data(), y.data(), len);
      EXPECT_EQ(y, z) << target << " " << len;
    }
  });
}

TEST(EncoderOpsTest, GeluKeepsNaNAndLimits) {
  for_each_target([&](const std::string& target) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    std::vector<float> x = {nan, inf, -1e30f, 0.0f}, y(4);
    gelu_erf_f32(x.data(), y.data(), 4);
    EXPECT_TRUE(std::isnan(y[0])) << target;
    EXPECT_EQ(y[1], inf) << target;
    EXPECT_EQ(y[2], 0.0f) << target;  // erfc underflows to exactly 0
    EXPECT_EQ(y[3], 0.0f) << target;
  });
}

}  // namespace
}  // namespace lmforge
