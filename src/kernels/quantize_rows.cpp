// Highway versions of the reference row encoders, compiled once per SIMD target
// (foreach_target.h) and picked at run time (HWY_DYNAMIC_DISPATCH). See quantize_rows.h for
// why they are bit-exact: every lane repeats one group's reference computation, operation for
// operation (the comments name the reference line each step mirrors), and this file is built
// with -ffp-contract=off (CMakeLists.txt).

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/k_quant_pack.h"
#include "kernels/quantize_rows.h"
#include "quant/ggml_blocks.h"
#include "quant/k_quants.h"
#include "quant/k_quants_scale_min.h"
#include "quant/type_traits.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/quantize_rows.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 float lanes (AVX-512's): the stack buffers are sized for that, and 4, 8 or 16
// lanes always divide the 16 groups of a Q2_K/Q3_K/Q6_K super-block.
constexpr size_t kMaxLanes = 16;
using DF = hn::CappedTag<float, kMaxLanes>;
using DI = hn::RebindToSigned<DF>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;


// ggml's nearest_int per lane: add 1.5 * 2^23 and read the low mantissa bits.
HWY_INLINE VI NearestInt(DF df, VF v) {
  const DI di;
  const VI bits = hn::BitCast(di, hn::Add(v, hn::Set(df, 12582912.0f)));
  return hn::Sub(hn::And(bits, hn::Set(di, 0x007FFFFF)), hn::Set(di, 0x00400000));
}

HWY_INLINE VI Clamp(DI di, VI v, int lo, int hi) {
  return hn::Max(hn::Set(di, lo), hn::Min(hn::Set(di, hi), v));
}

// True when every one of the n floats is finite (exponent field not all ones).
bool AllFinite(const float* x, size_t n) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  const VI exp_mask = hn::Set(di, 0x7F800000);
  VI worst = hn::Zero(di);
  for (size_t i = 0; i < n; i += N) worst = hn::Max(worst, hn::And(hn::BitCast(di, hn::LoadU(df, x + i)), exp_mask));
  return hn::GetLane(hn::MaxOfLanes(di, worst)) != 0x7F800000;
}

// Copies `count` groups of `G` consecutive floats (groups beyond `valid` as zeros) into xt so that
// xt[i * N + lane] is element i of group lane.
template <size_t G>
HWY_INLINE void Transpose(const float* x, size_t valid, size_t N, float* xt) {
  for (size_t lane = 0; lane < N; ++lane)
    for (size_t i = 0; i < G; ++i) xt[i * N + lane] = lane < valid ? x[lane * G + i] : 0.0f;
}

// ---- Q4_K / Q5_K: quant/k_quants_scale_min.cpp with make_qkx2_quants (k_quants_common.cpp) ----

// make_qkx2_quants' error_of: |diff| (use_mad) or diff * diff.
template <bool kMad>
HWY_INLINE VF Error(VF diff) {
  if constexpr (kMad) {
    return hn::Abs(diff);
  } else {
    return hn::Mul(diff, diff);
  }
}

// How make_qkx2_quants is called: Q4_K/Q5_K (quantize_scale_min_k4) weigh by av_x + |x| over
// groups of 32 and score squared errors; Q2_K weighs by |x| over groups of 16 and scores
// absolute errors (use_mad).
enum class Qkx2Flavor { kScaleMinK4, kQ2K };

// One make_qkx2_quants per lane on N groups of n (xt transposed), rdelta 0.1, with the weights
// and error of `flavor`. Writes each lane's scale, the_min and the quants (Lt transposed, int32).
template <Qkx2Flavor flavor>
void ScaleMinSearch(const float* HWY_RESTRICT xt, int nmax, float rmin, int nstep, float* scale_out,
                    float* min_out, int32_t* HWY_RESTRICT Lt) {
  constexpr bool kMad = flavor == Qkx2Flavor::kQ2K;
  constexpr int n = kMad ? 16 : 32;
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  HWY_ALIGN float wt[n * kMaxLanes];
  HWY_ALIGN int32_t Laux[n * kMaxLanes];
  const VF zero = hn::Zero(df);

  if constexpr (kMad) {
    // quantize_row_q2_k: weights = |x|.
    for (int i = 0; i < n; ++i) hn::Store(hn::Abs(hn::Load(df, xt + i * N)), df, wt + i * N);
  } else {
    // quantize_scale_min_k4: sum_x2 += x*x; av_x = sqrt(sum_x2 / 32); weights = av_x + |x|.
    VF sum_x2 = zero;
    for (int i = 0; i < n; ++i) {
      const VF x = hn::Load(df, xt + i * N);
      sum_x2 = hn::Add(sum_x2, hn::Mul(x, x));
    }
    const VF av_x = hn::Sqrt(hn::Div(sum_x2, hn::Set(df, 32.0f)));
    for (int i = 0; i < n; ++i) hn::Store(hn::Add(av_x, hn::Abs(hn::Load(df, xt + i * N))), df, wt + i * N);
  }

  // min, max (strict comparisons), sum_w, sum_x from element 0 on.
  VF min = hn::Load(df, xt), max = min;
  VF sum_w = hn::Load(df, wt);
  VF sum_x = hn::Mul(sum_w, min);
  for (int i = 1; i < n; ++i) {
    const VF x = hn::Load(df, xt + i * N), w = hn::Load(df, wt + i * N);
    min = hn::IfThenElse(hn::Lt(x, min), x, min);
    max = hn::IfThenElse(hn::Gt(x, max), x, max);
    sum_w = hn::Add(sum_w, w);
    sum_x = hn::Add(sum_x, hn::Mul(w, x));
  }
  min = hn::IfThenElse(hn::Gt(min, zero), zero, min);  // if (min > 0) min = 0
  const auto flat = hn::Eq(max, min);                 // the early return: L = 0, scale 0
  const VF flat_min = min;

  const auto fnmax = static_cast<float>(nmax);
  VF iscale = hn::Div(hn::Set(df, fnmax), hn::Sub(max, min));
  VF scale = hn::Div(hn::Set(df, 1.0f), iscale);
  VF best_error = zero;
  for (int i = 0; i < n; ++i) {
    const VF x = hn::Load(df, xt + i * N), w = hn::Load(df, wt + i * N);
    const VI l = Clamp(di, NearestInt(df, hn::Mul(iscale, hn::Sub(x, min))), 0, nmax);
    hn::Store(l, di, Lt + i * N);
    const VF diff = hn::Sub(hn::Add(hn::Mul(scale, hn::ConvertTo(df, l)), min), x);
    best_error = hn::Add(best_error, hn::Mul(w, Error<kMad>(diff)));
  }
  for (int is = 0; is <= nstep; ++is) {
    // (rmin + rdelta * is + nmax) is the same in every lane: computed once, in the same order.
    const float numerator = rmin + 0.1f * static_cast<float>(is) + fnmax;
    iscale = hn::Div(hn::Set(df, numerator), hn::Sub(max, min));
    VF sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < n; ++i) {
      const VF x = hn::Load(df, xt + i * N), w = hn::Load(df, wt + i * N);
      const VI l = Clamp(di, NearestInt(df, hn::Mul(iscale, hn::Sub(x, min))), 0, nmax);
      hn::Store(l, di, Laux + i * N);
      const VF wl = hn::Mul(w, hn::ConvertTo(df, l));
      sum_l = hn::Add(sum_l, wl);
      sum_l2 = hn::Add(sum_l2, hn::Mul(wl, hn::ConvertTo(df, l)));
      sum_xl = hn::Add(sum_xl, hn::Mul(wl, x));
    }
    const VF D = hn::Sub(hn::Mul(sum_w, sum_l2), hn::Mul(sum_l, sum_l));
    VF this_scale = hn::Div(hn::Sub(hn::Mul(sum_w, sum_xl), hn::Mul(sum_x, sum_l)), D);
    VF this_min = hn::Div(hn::Sub(hn::Mul(sum_l2, sum_x), hn::Mul(sum_l, sum_xl)), D);
    const auto positive_min = hn::Gt(this_min, zero);
    this_scale = hn::IfThenElse(positive_min, hn::Div(sum_xl, sum_l2), this_scale);
    this_min = hn::IfThenElse(positive_min, zero, this_min);
    VF cur_error = zero;
    for (int i = 0; i < n; ++i) {
      const VF x = hn::Load(df, xt + i * N), w = hn::Load(df, wt + i * N);
      const VF fl = hn::ConvertTo(df, hn::Load(di, Laux + i * N));
      const VF diff = hn::Sub(hn::Add(hn::Mul(this_scale, fl), this_min), x);
      cur_error = hn::Add(cur_error, hn::Mul(w, Error<kMad>(diff)));
    }
    // if (D > 0) { ... if (cur_error < best_error) take it }
    const auto better = hn::And(hn::Gt(D, zero), hn::Lt(cur_error, best_error));
    if (hn::AllFalse(df, better)) continue;
    const auto better_i = hn::RebindMask(di, better);
    for (int i = 0; i < n; ++i)
      hn::Store(hn::IfThenElse(better_i, hn::Load(di, Laux + i * N), hn::Load(di, Lt + i * N)), di, Lt + i * N);
    best_error = hn::IfThenElse(better, cur_error, best_error);
    scale = hn::IfThenElse(better, this_scale, scale);
    min = hn::IfThenElse(better, this_min, min);
  }
  const auto flat_i = hn::RebindMask(di, flat);
  for (int i = 0; i < n; ++i) hn::Store(hn::IfThenZeroElse(flat_i, hn::Load(di, Lt + i * N)), di, Lt + i * N);
  hn::StoreU(hn::IfThenZeroElse(flat, scale), df, scale_out);
  hn::StoreU(hn::Neg(hn::IfThenElse(flat, flat_min, min)), df, min_out);  // *the_min = -min
}

// The rest of quantize_scale_min_k4 for one super-block, given its eight groups' scales, mins
// and quants: the 6-bit scales and mins under d and dmin, then every element requantized
// against its group's stored scale and min (vectorized along the group).
void FinishScaleMinK4(const float* x, const float* scales, const float* mins, int nmax, uint8_t* block,
                      uint8_t* L) {
  constexpr int kGroups = 8, kGroupSize = 32;
  store_scales_mins_k4(scales, mins, block);

  const DF df;
  const DI di;
  const hn::Rebind<uint8_t, DF> du8;
  const size_t N = hn::Lanes(df);
  const float d_all = load_f16(block), dmin_all = load_f16(block + 2);
  for (int g = 0; g < kGroups; ++g) {
    uint8_t sc, m;
    get_scale_min_k4(g, block + 4, &sc, &m);
    const float d = d_all * static_cast<float>(sc);
    if (d == 0) continue;
    const VF vd = hn::Set(df, d), vdm = hn::Set(df, dmin_all * static_cast<float>(m));
    for (size_t i = 0; i < kGroupSize; i += N) {
      const VF xv = hn::LoadU(df, x + kGroupSize * g + i);
      const VI l = Clamp(di, NearestInt(df, hn::Div(hn::Add(xv, vdm), vd)), 0, nmax);
      hn::StoreU(hn::DemoteTo(du8, l), du8, L + kGroupSize * g + i);
    }
  }
}

using PackFn = void (*)(const uint8_t* L, uint8_t* block);

// Q4_K and Q5_K rows: super-blocks two at a time (16 groups: one AVX-512 vector's worth).
void QuantizeRowScaleMinK4(const float* x, uint8_t* out, size_t n, int nmax, float rmin, int nstep,
                           size_t block_bytes, PackFn pack) {
  constexpr size_t kChunkBlocks = 2, kChunkGroups = 8 * kChunkBlocks;
  const DF df;
  const size_t N = hn::Lanes(df);
  HWY_ALIGN float xt[32 * kMaxLanes];
  HWY_ALIGN int32_t Lt[32 * kMaxLanes];
  float scales[kChunkGroups + kMaxLanes], mins[kChunkGroups + kMaxLanes];
  uint8_t L[kChunkBlocks * kQK_K];
  const size_t blocks = n / kQK_K;
  for (size_t b0 = 0; b0 < blocks; b0 += kChunkBlocks) {
    const size_t nb = std::min(kChunkBlocks, blocks - b0);
    const float* xc = x + b0 * kQK_K;
    const size_t groups = 8 * nb;
    for (size_t g0 = 0; g0 < groups; g0 += N) {
      Transpose<32>(xc + 32 * g0, std::min(N, groups - g0), N, xt);
      ScaleMinSearch<Qkx2Flavor::kScaleMinK4>(xt, nmax, rmin, nstep, scales + g0, mins + g0, Lt);
      for (size_t lane = 0; lane < N && g0 + lane < groups; ++lane)
        for (size_t i = 0; i < 32; ++i) L[32 * (g0 + lane) + i] = static_cast<uint8_t>(Lt[i * N + lane]);
    }
    for (size_t b = 0; b < nb; ++b) {
      uint8_t* block = out + (b0 + b) * block_bytes;
      FinishScaleMinK4(xc + b * kQK_K, scales + 8 * b, mins + 8 * b, nmax, block, L + b * kQK_K);
      pack(L + b * kQK_K, block);
    }
  }
}

void QuantizeRowQ4K(const float* x, uint8_t* out, size_t n) {
  if (!AllFinite(x, n)) return quantize_row_q4_k(x, out, n);
  QuantizeRowScaleMinK4(x, out, n, 15, -1.f, 20, kQ4_KBlockBytes, pack_q4_k_quants);
}

void QuantizeRowQ5K(const float* x, uint8_t* out, size_t n) {
  if (!AllFinite(x, n)) return quantize_row_q5_k(x, out, n);
  QuantizeRowScaleMinK4(x, out, n, 31, -0.5f, 15, kQ5_KBlockBytes, pack_q5_k_quants);
}

// ---- Q6_K: quant/q6_k.cpp with make_qx_quants(16, 32, x, L, 1) (k_quants_common.cpp) ----

// One make_qx_quants(n = 16, nmax = 32, rmse_type = 1) per lane on N groups of 16 (xt
// transposed). Writes each lane's scale and its quants in [0, 64) (Lt transposed, int32).
void QxSearch(const float* HWY_RESTRICT xt, float* scale_out, int32_t* HWY_RESTRICT Lt) {
  constexpr int n = 16, nmax = 32;
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  HWY_ALIGN int32_t Laux[n * kMaxLanes];
  const VF zero = hn::Zero(df);

  // signed_absmax: the first element of largest magnitude (strict <), sign kept.
  VF amax = zero, max = zero;
  for (int i = 0; i < n; ++i) {
    const VF x = hn::Load(df, xt + i * N);
    const VF a = hn::Abs(x);
    const auto larger = hn::Lt(amax, a);
    amax = hn::IfThenElse(larger, a, amax);
    max = hn::IfThenElse(larger, x, max);
  }
  const auto all_zero = hn::Lt(hn::Abs(max), hn::Set(df, kGroupMaxEps));

  // First pass at iscale = -nmax / max, weights w = x * x (rmse_type 1).
  VF iscale = hn::Div(hn::Set(df, static_cast<float>(-nmax)), max);
  VF sumlx = zero, suml2 = zero;
  for (int i = 0; i < n; ++i) {
    const VF x = hn::Load(df, xt + i * N);
    const VI l = Clamp(di, NearestInt(df, hn::Mul(iscale, x)), -nmax, nmax - 1);
    hn::Store(hn::Add(l, hn::Set(di, nmax)), di, Lt + i * N);
    const VF w = hn::Mul(x, x);
    const VF fl = hn::ConvertTo(df, l);
    sumlx = hn::Add(sumlx, hn::Mul(hn::Mul(w, x), fl));
    suml2 = hn::Add(suml2, hn::Mul(hn::Mul(w, fl), fl));
  }
  // scale = suml2 != 0 ? sumlx / suml2 : 0 (Not(Eq): true for NaN, as C++'s != is)
  VF scale = hn::IfThenElse(hn::Not(hn::Eq(suml2, zero)), hn::Div(sumlx, suml2), zero);
  VF best = hn::Mul(scale, sumlx);
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float numerator = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is));
    iscale = hn::Div(hn::Set(df, numerator), max);
    sumlx = suml2 = zero;
    for (int i = 0; i < n; ++i) {
      const VF x = hn::Load(df, xt + i * N);
      const VI l = Clamp(di, NearestInt(df, hn::Mul(iscale, x)), -nmax, nmax - 1);
      hn::Store(l, di, Laux + i * N);
      const VF w = hn::Mul(x, x);
      const VF fl = hn::ConvertTo(df, l);
      sumlx = hn::Add(sumlx, hn::Mul(hn::Mul(w, x), fl));
      suml2 = hn::Add(suml2, hn::Mul(hn::Mul(w, fl), fl));
    }
    // if (suml2 > 0 && sumlx * sumlx > best * suml2) take it
    const auto better = hn::And(hn::Gt(suml2, zero), hn::Gt(hn::Mul(sumlx, sumlx), hn::Mul(best, suml2)));
    if (hn::AllFalse(df, better)) continue;
    const auto better_i = hn::RebindMask(di, better);
    const VI offset = hn::Set(di, nmax);
    for (int i = 0; i < n; ++i)
      hn::Store(hn::IfThenElse(better_i, hn::Add(hn::Load(di, Laux + i * N), offset), hn::Load(di, Lt + i * N)), di,
                Lt + i * N);
    const VF new_scale = hn::Div(sumlx, suml2);
    scale = hn::IfThenElse(better, new_scale, scale);
    best = hn::IfThenElse(better, hn::Mul(new_scale, sumlx), best);
  }
  const auto zero_i = hn::RebindMask(di, all_zero);
  for (int i = 0; i < n; ++i) hn::Store(hn::IfThenZeroElse(zero_i, hn::Load(di, Lt + i * N)), di, Lt + i * N);
  hn::StoreU(hn::IfThenZeroElse(all_zero, scale), df, scale_out);
}

// The last step of Q6_K and Q3_K: every element of the sixteen groups of 16 requantized against
// its group's stored signed scale d_all * stored[g], as round(x / d) clamped to [-offset,
// offset - 1] and stored plus offset; a group whose scale is 0 keeps the quants it has (as the
// reference's `continue`).
template <typename Scale>
void RequantizeSigned16(const float* x, float d_all, const Scale* stored, int offset, uint8_t* L) {
  constexpr size_t kGroups = 16, kGroupSize = 16;
  const DF df;
  const DI di;
  const hn::Rebind<uint8_t, DF> du8;
  const size_t N = hn::Lanes(df);
  for (size_t g = 0; g < kGroups; ++g) {
    const float d = d_all * static_cast<float>(stored[g]);
    if (d == 0) continue;
    const VF vd = hn::Set(df, d);
    for (size_t i = 0; i < kGroupSize; i += N) {
      const VI l = Clamp(di, NearestInt(df, hn::Div(hn::LoadU(df, x + kGroupSize * g + i), vd)), -offset, offset - 1);
      hn::StoreU(hn::DemoteTo(du8, hn::Add(l, hn::Set(di, offset))), du8, L + kGroupSize * g + i);
    }
  }
}

void QuantizeRowQ6K(const float* x, uint8_t* out, size_t n) {
  if (!AllFinite(x, n)) return quantize_row_q6_k(x, out, n);
  constexpr size_t kGroups = 16, kGroupSize = 16, kD = 208, kScales = 192;
  const DF df;
  const size_t N = hn::Lanes(df);  // 4, 8 or 16: always divides the 16 groups
  HWY_ALIGN float xt[kGroupSize * kMaxLanes];
  HWY_ALIGN int32_t Lt[kGroupSize * kMaxLanes];
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ6_KBlockBytes) {
    float scales[kGroups];
    uint8_t L[kQK_K];
    for (size_t g0 = 0; g0 < kGroups; g0 += N) {
      Transpose<kGroupSize>(x + kGroupSize * g0, N, N, xt);
      QxSearch(xt, scales + g0, Lt);
      for (size_t lane = 0; lane < N; ++lane)
        for (size_t i = 0; i < kGroupSize; ++i) L[kGroupSize * (g0 + lane) + i] = static_cast<uint8_t>(Lt[i * N + lane]);
    }
    float max_scale = 0, max_abs_scale = 0;
    for (size_t g = 0; g < kGroups; ++g) {
      if (std::fabs(scales[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(out, 0, kQ6_KBlockBytes);
      continue;
    }
    const float iscale = -128.f / max_scale;
    store_f16(out + kD, 1 / iscale);
    auto* sc = reinterpret_cast<int8_t*>(out + kScales);
    for (size_t g = 0; g < kGroups; ++g) sc[g] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[g])));
    RequantizeSigned16(x, load_f16(out + kD), sc, 32, L);
    pack_q6_k_quants(L, out);
  }
}

// ---- Q2_K: quant/q2_k.cpp with make_qkx2_quants(16, 3, x, |x|, ..., -0.5, 0.1, 15, true) ----

void QuantizeRowQ2K(const float* x, uint8_t* out, size_t n) {
  if (!AllFinite(x, n)) return quantize_row_q2_k(x, out, n);
  constexpr size_t kGroups = 16, kGroupSize = 16, kD = 80, kDmin = 82;
  constexpr float kQ4Scale = 15.f;
  const DF df;
  const DI di;
  const hn::Rebind<uint8_t, DF> du8;
  const size_t N = hn::Lanes(df);  // 4, 8 or 16: always divides the 16 groups
  HWY_ALIGN float xt[kGroupSize * kMaxLanes];
  HWY_ALIGN int32_t Lt[kGroupSize * kMaxLanes];
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ2_KBlockBytes) {
    float scales[kGroups], mins[kGroups];
    uint8_t L[kQK_K];
    for (size_t g0 = 0; g0 < kGroups; g0 += N) {
      Transpose<kGroupSize>(x + kGroupSize * g0, N, N, xt);
      ScaleMinSearch<Qkx2Flavor::kQ2K>(xt, 3, -0.5f, 15, scales + g0, mins + g0, Lt);
      for (size_t lane = 0; lane < N; ++lane)
        for (size_t i = 0; i < kGroupSize; ++i) L[kGroupSize * (g0 + lane) + i] = static_cast<uint8_t>(Lt[i * N + lane]);
    }
    float max_scale = 0, max_min = 0;
    for (size_t g = 0; g < kGroups; ++g) {
      if (scales[g] > max_scale) max_scale = scales[g];
      if (mins[g] > max_min) max_min = mins[g];
    }
    uint8_t* sc = out;
    if (max_scale > 0) {
      const float iscale = kQ4Scale / max_scale;
      for (size_t g = 0; g < kGroups; ++g) sc[g] = static_cast<uint8_t>(nearest_int(iscale * scales[g]));
      store_f16(out + kD, max_scale / kQ4Scale);
    } else {
      std::fill(sc, sc + kGroups, uint8_t{0});
      store_f16(out + kD, 0.f);
    }
    if (max_min > 0) {
      const float iscale = kQ4Scale / max_min;
      for (size_t g = 0; g < kGroups; ++g) sc[g] = static_cast<uint8_t>(sc[g] | nearest_int(iscale * mins[g]) << 4);
      store_f16(out + kDmin, max_min / kQ4Scale);
    } else {
      store_f16(out + kDmin, 0.f);
    }
    const float d_all = load_f16(out + kD), dmin_all = load_f16(out + kDmin);
    for (size_t g = 0; g < kGroups; ++g) {
      const float d = d_all * static_cast<float>(sc[g] & 0xF);
      if (d == 0) continue;
      const VF vd = hn::Set(df, d), vdm = hn::Set(df, dmin_all * static_cast<float>(sc[g] >> 4));
      for (size_t i = 0; i < kGroupSize; i += N) {
        const VF xv = hn::LoadU(df, x + kGroupSize * g + i);
        const VI l = Clamp(di, NearestInt(df, hn::Div(hn::Add(xv, vdm), vd)), 0, 3);
        hn::StoreU(hn::DemoteTo(du8, l), du8, L + kGroupSize * g + i);
      }
    }
    pack_q2_k_quants(L, out);
  }
}

// ---- Q3_K: quant/q3_k.cpp with make_q3_quants(16, 4, x, L, true) (k_quants_common.cpp) ----

// One make_q3_quants(n = 16, nmax = 4, do_rmse = true) per lane on N groups of 16 (xt
// transposed). Writes each lane's scale and its quants in [0, 8) (Lt transposed, int32).
// The coordinate descent stops per group when a sweep changes nothing; a lane that has
// stopped while others go on repeats that sweep on the same state, which again changes
// nothing, so running the sweeps until every lane has stopped gives each lane its own result.
void Q3Search(const float* HWY_RESTRICT xt, float* scale_out, int32_t* HWY_RESTRICT Lt) {
  constexpr int n = 16, nmax = 4;
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  const VF zero = hn::Zero(df);

  VF amax = zero, max = zero;  // signed_absmax
  for (int i = 0; i < n; ++i) {
    const VF x = hn::Load(df, xt + i * N);
    const VF a = hn::Abs(x);
    const auto larger = hn::Lt(amax, a);
    amax = hn::IfThenElse(larger, a, amax);
    max = hn::IfThenElse(larger, x, max);
  }
  const auto all_zero = hn::Lt(hn::Abs(max), hn::Set(df, kGroupMaxEps));

  const VF iscale = hn::Div(hn::Set(df, static_cast<float>(-nmax)), max);
  VF sumlx = zero, suml2 = zero;
  for (int i = 0; i < n; ++i) {
    const VF x = hn::Load(df, xt + i * N);
    const VI l = Clamp(di, NearestInt(df, hn::Mul(iscale, x)), -nmax, nmax - 1);
    hn::Store(l, di, Lt + i * N);
    const VF w = hn::Mul(x, x);
    const VF fl = hn::ConvertTo(df, l);
    sumlx = hn::Add(sumlx, hn::Mul(hn::Mul(w, x), fl));
    suml2 = hn::Add(suml2, hn::Mul(hn::Mul(w, fl), fl));
  }
  for (int itry = 0; itry < 5; ++itry) {
    auto changed = hn::Lt(zero, zero);  // all false
    for (int i = 0; i < n; ++i) {
      const VF x = hn::Load(df, xt + i * N);
      const VF w = hn::Mul(x, x);
      const VI Li = hn::Load(di, Lt + i * N);
      const VF li = hn::ConvertTo(df, Li);
      const VF slx_without = hn::Sub(sumlx, hn::Mul(hn::Mul(w, x), li));
      const VF sl2_without = hn::Sub(suml2, hn::Mul(hn::Mul(w, li), li));
      const VI new_l = Clamp(di, NearestInt(df, hn::Div(hn::Mul(x, sl2_without), slx_without)), -nmax, nmax - 1);
      const VF fl = hn::ConvertTo(df, new_l);
      const VF slx = hn::Add(slx_without, hn::Mul(hn::Mul(w, x), fl));
      const VF sl2 = hn::Add(sl2_without, hn::Mul(hn::Mul(w, fl), fl));
      // if (slx_without > 0 && new_l != L[i] && sl2 > 0 && slx*slx*suml2 > sumlx*sumlx*sl2) take it
      const auto take = hn::And(
          hn::And(hn::Gt(slx_without, zero), hn::RebindMask(df, hn::Not(hn::Eq(new_l, Li)))),
          hn::And(hn::Gt(sl2, zero),
                  hn::Gt(hn::Mul(hn::Mul(slx, slx), suml2), hn::Mul(hn::Mul(sumlx, sumlx), sl2))));
      hn::Store(hn::IfThenElse(hn::RebindMask(di, take), new_l, Li), di, Lt + i * N);
      sumlx = hn::IfThenElse(take, slx, sumlx);
      suml2 = hn::IfThenElse(take, sl2, suml2);
      changed = hn::Or(changed, take);
    }
    if (hn::AllFalse(df, changed)) break;
  }
  const auto zero_i = hn::RebindMask(di, all_zero);
  for (int i = 0; i < n; ++i)
    hn::Store(hn::IfThenZeroElse(zero_i, hn::Add(hn::Load(di, Lt + i * N), hn::Set(di, nmax))), di, Lt + i * N);
  const VF scale = hn::IfThenElse(hn::Gt(suml2, zero), hn::Div(sumlx, suml2), zero);
  hn::StoreU(hn::IfThenZeroElse(all_zero, scale), df, scale_out);
}

void QuantizeRowQ3K(const float* x, uint8_t* out, size_t n) {
  if (!AllFinite(x, n)) return quantize_row_q3_k(x, out, n);
  constexpr size_t kGroups = 16, kGroupSize = 16, kScales = 96, kD = 108;
  const DF df;
  const size_t N = hn::Lanes(df);
  HWY_ALIGN float xt[kGroupSize * kMaxLanes];
  HWY_ALIGN int32_t Lt[kGroupSize * kMaxLanes];
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ3_KBlockBytes) {
    float scales[kGroups];
    uint8_t L[kQK_K];
    for (size_t g0 = 0; g0 < kGroups; g0 += N) {
      Transpose<kGroupSize>(x + kGroupSize * g0, N, N, xt);
      Q3Search(xt, scales + g0, Lt);
      for (size_t lane = 0; lane < N; ++lane)
        for (size_t i = 0; i < kGroupSize; ++i) L[kGroupSize * (g0 + lane) + i] = static_cast<uint8_t>(Lt[i * N + lane]);
    }
    float max_scale = 0, amax = 0;
    for (size_t g = 0; g < kGroups; ++g) {
      const float scale = std::fabs(scales[g]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[g];
      }
    }
    uint8_t* s = out + kScales;
    std::memset(s, 0, 12);
    int stored[kGroups] = {};  // each group's scale as stored, unbiased
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (size_t g = 0; g < kGroups; ++g) {
        auto l = static_cast<int8_t>(nearest_int(iscale * scales[g]));
        l = static_cast<int8_t>(std::max(-32, std::min(31, static_cast<int>(l))) + 32);
        if (g < 8) {
          s[g] = static_cast<uint8_t>(l & 0xF);
        } else {
          s[g - 8] = static_cast<uint8_t>(s[g - 8] | (l & 0xF) << 4);
        }
        s[g % 4 + 8] = static_cast<uint8_t>(s[g % 4 + 8] | (l >> 4) << (2 * (g / 4)));
        stored[g] = l - 32;
      }
      store_f16(out + kD, 1 / iscale);
    } else {
      store_f16(out + kD, 0.f);
    }
    RequantizeSigned16(x, load_f16(out + kD), stored, 4, L);
    pack_q3_k_quants(L, out);
  }
}

// ---- Q8_0 and Q4_0: quant/ggml_blocks.cpp, elementwise along each 32-element block ----

void QuantizeRowQ8_0(const float* x, uint8_t* out, size_t n) {
  if (!AllFinite(x, n)) return quantize_row_q8_0(x, out, n);
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DF> di8;
  const size_t N = hn::Lanes(df);
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ8_0BlockBytes) {
    // fmax over |x| is order-free for finite values.
    VF vmax = hn::Zero(df);
    for (size_t j = 0; j < kQK; j += N) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, x + j)));
    const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {  // a subnormal d: the reference's float-to-int of inf decides
      quantize_row_q8_0(x, out, kQK);
      continue;
    }
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(out, &dh, 2);
    const VF vid = hn::Set(df, id), half = hn::Set(df, 0.5f);
    for (size_t j = 0; j < kQK; j += N) {
      // round_half_away: t = (int)|v|; r = t + (|v| - t >= 0.5); sign of v.
      const VF v = hn::Mul(hn::LoadU(df, x + j), vid);
      const VF a = hn::Abs(v);
      const VI t = hn::ConvertTo(di, a);
      const VI up = hn::VecFromMask(di, hn::RebindMask(di, hn::Ge(hn::Sub(a, hn::ConvertTo(df, t)), half)));
      const VI r = hn::Sub(t, up);  // the mask is -1 where rounding up
      const VI q = hn::IfThenElse(hn::RebindMask(di, hn::Lt(v, hn::Zero(df))), hn::Neg(r), r);
      hn::StoreU(hn::DemoteTo(di8, q), di8, reinterpret_cast<int8_t*>(out + 2 + j));
    }
  }
}

void QuantizeRowQ4_0(const float* x, uint8_t* out, size_t n) {
  if (!AllFinite(x, n)) return quantize_row_q4_0(x, out, n);
  const DF df;
  const DI di;
  const hn::Rebind<uint8_t, DF> du8;
  const size_t N = hn::Lanes(df);
  for (size_t b = 0; b < n / kQK; ++b, x += kQK, out += kQ4_0BlockBytes) {
    // signed_absmax: the first element whose magnitude is the block's largest (0 if none).
    VF vmax = hn::Zero(df);
    for (size_t j = 0; j < kQK; j += N) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, x + j)));
    const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
    float max = 0.0f;
    if (amax > 0.0f) {
      const VF va = hn::Set(df, amax);
      for (size_t j = 0; j < kQK; j += N) {
        const intptr_t first = hn::FindFirstTrue(df, hn::Eq(hn::Abs(hn::LoadU(df, x + j)), va));
        if (first >= 0) {
          max = x[j + static_cast<size_t>(first)];
          break;
        }
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {  // a subnormal d: the reference's float-to-int of inf decides
      quantize_row_q4_0(x, out, kQK);
      continue;
    }
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(out, &dh, 2);
    const VF vid = hn::Set(df, id), bias = hn::Set(df, 8.5f);
    const VI fifteen = hn::Set(di, 15);
    for (size_t j = 0; j < kQK / 2; j += N) {
      // (int8_t)(x * id + 8.5f), capped at 15; low nibble element j, high nibble j + 16.
      const VI lo = hn::Min(fifteen, hn::ConvertTo(di, hn::Add(hn::Mul(hn::LoadU(df, x + j), vid), bias)));
      const VI hi = hn::Min(fifteen, hn::ConvertTo(di, hn::Add(hn::Mul(hn::LoadU(df, x + j + kQK / 2), vid), bias)));
      hn::StoreU(hn::DemoteTo(du8, hn::Or(lo, hn::ShiftLeft<4>(hi))), du8, out + 2 + j);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(QuantizeRowQ2K);
HWY_EXPORT(QuantizeRowQ3K);
HWY_EXPORT(QuantizeRowQ4K);
HWY_EXPORT(QuantizeRowQ5K);
HWY_EXPORT(QuantizeRowQ6K);
HWY_EXPORT(QuantizeRowQ8_0);
HWY_EXPORT(QuantizeRowQ4_0);

bool has_fast_encoder(DType t) {
  switch (t) {
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q8_0:
    case DType::Q4_0:
      return true;
    default:
      return false;
  }
}

void encode_row_fast(DType t, const float* in, uint8_t* out, size_t n) {
  switch (t) {
    case DType::Q2_K:
      return HWY_DYNAMIC_DISPATCH(QuantizeRowQ2K)(in, out, n);
    case DType::Q3_K:
      return HWY_DYNAMIC_DISPATCH(QuantizeRowQ3K)(in, out, n);
    case DType::Q4_K:
      return HWY_DYNAMIC_DISPATCH(QuantizeRowQ4K)(in, out, n);
    case DType::Q5_K:
      return HWY_DYNAMIC_DISPATCH(QuantizeRowQ5K)(in, out, n);
    case DType::Q6_K:
      return HWY_DYNAMIC_DISPATCH(QuantizeRowQ6K)(in, out, n);
    case DType::Q8_0:
      return HWY_DYNAMIC_DISPATCH(QuantizeRowQ8_0)(in, out, n);
    case DType::Q4_0:
      return HWY_DYNAMIC_DISPATCH(QuantizeRowQ4_0)(in, out, n);
    default:
      return encode_row(t, in, out, n);
  }
}

}  // namespace lmforge
#endif  // HWY_ONCE
