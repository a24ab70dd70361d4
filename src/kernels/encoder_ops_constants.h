// The constants both forms of the encoder operations (encoder_ops.cpp and its scalar twin)
// evaluate erf with; the approximation itself is described in encoder_ops.h.
#pragma once

namespace lmforge::encoder_ops {

inline constexpr float kInvSqrt2 = 0.70710678118654752f;
// Below this |z| erf comes from its series, at or above it from erfc.
inline constexpr float kSeriesLimit = 0.5f;
// z is clamped to this: exp(-z^2 + ...) is then below -104, where both exps (libm's and
// Highway's, which is specified down to -104 and returns 0 below) give exactly 0, as erfc(11)
// (1.4e-54) is in float.
inline constexpr float kErfcClamp = 11.0f;

// erf(z) / z = sum_k kErfSeries[k] z^(2k), kErfSeries[k] = 2/sqrt(pi) (-1)^k / (k! (2k + 1)).
inline constexpr int kErfSeriesTerms = 7;
inline constexpr float kErfSeries[kErfSeriesTerms] = {
    1.1283791670955126f,    -0.37612638903183754f,   0.11283791670955126f,   -0.026866170645131252f,
    0.005223977625442188f,  -0.0008548327023450852f, 0.00012055332981789664f,
};

// erfc(z) ~ t exp(-z^2 + sum_k kErfcPoly[k] t^k), t = 1 / (1 + z / 2), z >= 0: the
// Chebyshev-fitted coefficients published in Numerical Recipes (erfcc), fractional error
// < 1.2e-7.
inline constexpr int kErfcPolyTerms = 10;
inline constexpr float kErfcPoly[kErfcPolyTerms] = {
    -1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f,  -0.18628806f,
    0.27886807f,  -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f,
};

}  // namespace lmforge::encoder_ops
