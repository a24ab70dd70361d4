#include "quant/k_quants_scale_min.h"

#include <algorithm>
#include <cmath>

#include "quant/k_quants_common.h"

namespace lmforge {

void store_scales_mins_k4(const float* scales, const float* mins, uint8_t* block) {
  constexpr int kGroups = 8;
  float max_scale = 0, max_min = 0;
  for (int g = 0; g < kGroups; ++g) {
    if (scales[g] > max_scale) max_scale = scales[g];
    if (mins[g] > max_min) max_min = mins[g];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[kGroups], lm[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    // ggml stores nearest_int's result in a uint8_t before clamping (a wrap, not a clamp, for
    // a negative value).
    ls[g] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[g])));
    lm[g] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[g])));
  }
  store_f16(block, max_scale / 63.f);
  store_f16(block + 2, max_min / 63.f);
  put_scale_min_k4(ls, lm, block + 4);
}

void quantize_scale_min_k4(const float* x, int nmax, float rmin, int nstep, uint8_t* block,
                           uint8_t* L) {
  constexpr int kGroups = 8, kGroupSize = 32;
  float scales[kGroups], mins[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    const float* xg = x + kGroupSize * g;
    // Weights favour large elements, over a floor of the group's rms.
    float sum_x2 = 0;
    for (int l = 0; l < kGroupSize; ++l) sum_x2 += xg[l] * xg[l];
    const float av_x = std::sqrt(sum_x2 / kGroupSize);
    float weights[kGroupSize];
    for (int l = 0; l < kGroupSize; ++l) weights[l] = av_x + std::fabs(xg[l]);
    uint8_t Laux[kGroupSize];
    scales[g] = make_qkx2_quants(kGroupSize, nmax, xg, weights, L + kGroupSize * g, &mins[g],
                                 Laux, rmin, 0.1f, nstep, false);
  }
  store_scales_mins_k4(scales, mins, block);

  const float d_all = load_f16(block), dmin_all = load_f16(block + 2);
  for (int g = 0; g < kGroups; ++g) {
    uint8_t sc, m;
    get_scale_min_k4(g, block + 4, &sc, &m);
    const float d = d_all * static_cast<float>(sc);
    if (d == 0) continue;  // keeps make_qkx2_quants' quants, as ggml does
    const float dm = dmin_all * static_cast<float>(m);
    for (int i = 0; i < kGroupSize; ++i) {
      const int l = nearest_int((x[kGroupSize * g + i] + dm) / d);
      L[kGroupSize * g + i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

}  // namespace lmforge
