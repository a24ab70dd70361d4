// Shared pieces of ggml's K-quant reference quantizers (256-element super-blocks): the block
// sizes, ggml's nearest_int rounding and the scale searches make_qx_quants, make_q3_quants,
// make_qkx2_quants (also ggml's make_qkx3_quants, which is the same search whenever weights are
// given) and make_qp_quants, plus the 6-bit scale/min packing of Q4_K and Q5_K.
//
// Byte-identity with llama-quantize is the point, so each search repeats ggml's float operations
// in ggml's order, in float (never double), with no FMA contraction (the build is ISO C++:
// GCC's -ffp-contract=off). Any reordering, even an algebraically equal one, changes which scale
// wins on some block of a real model.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace lmforge {

constexpr size_t kQK_K = 256;  // elements per super-block
constexpr size_t kQ2_KBlockBytes = 84;
constexpr size_t kQ3_KBlockBytes = 110;
constexpr size_t kQ4_KBlockBytes = 144;
constexpr size_t kQ5_KBlockBytes = 176;
constexpr size_t kQ6_KBlockBytes = 210;

// Below this magnitude ggml treats a group as all zero (its GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// ggml's nearest_int: round half to even through the float adder (adding 1.5 * 2^23 pushes the
// fraction out of the mantissa). Exact for |v| <= 2^22 - 1; beyond that (or NaN), the same
// garbage as ggml's, with no undefined behaviour.
// Inline: the scale searches call it for every element of every candidate scale.
inline int nearest_int(float v) {
  const auto bits = std::bit_cast<uint32_t>(v + 12582912.0f);  // + 1.5 * 2^23
  return static_cast<int>(bits & 0x007FFFFFu) - 0x00400000;
}

// The f16 scale at `p` (little-endian) as a float, and a float stored there as f16.
float load_f16(const uint8_t* p);
void store_f16(uint8_t* p, float v);

// make_qx_quants: symmetric quants L[i] in [0, 2 * nmax) (offset by nmax) for n values,
// returning the scale. rmse_type selects the error weight as in ggml (0: no search; 1: x^2;
// 2: 1; 3: |x|; 4: sqrt|x|; negative: one refinement, no search); importance weights `qw`
// (n floats, the imatrix paths) replace that weight when given.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw = nullptr);

// make_qp_quants: unsigned quants L[i] in [0, nmax] of n non-negative values (the group scales
// or mins of the imatrix paths of Q2_K, Q4_K, Q5_K), the scale searched over nine candidates and
// refined one quant at a time, all under the weights `qw`; returns the scale.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* qw);

// make_q3_quants: symmetric quants L[i] in [0, 2 * nmax) (offset by nmax), with ggml's
// coordinate-descent refinement when do_rmse; returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// make_qkx2_quants: asymmetric quants L[i] in [0, nmax] with x ~ scale * L - the_min, searched
// over nstep + 1 candidate scales with the given weights; returns the scale, *the_min >= 0.
// Laux is n bytes of scratch.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Q4_K/Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes: bytes 0-3 hold scales
// 0-3 (high two bits: scales 4-7's bits 4-5), bytes 4-7 mins 0-3 (high two bits: mins 4-7's bits
// 4-5), bytes 8-11 scales 4-7 (low nibble) and mins 4-7 (high nibble).
void get_scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min);
void put_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* q);

}  // namespace lmforge
