// The loop nest every packed matrix product shares (matmul.cpp and the per-type kernel files),
// over a Tile<RM, RN> that computes RM weight rows times RN activation rows for one column
// range. A per-target header in Highway's style: include it after hwy/highway.h, outside any
// namespace; the toggling guard lets foreach_target.h compile it once per target.
#if defined(LMFORGE_KERNELS_TILE_LOOP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMFORGE_KERNELS_TILE_LOOP_INL_H_
#undef LMFORGE_KERNELS_TILE_LOOP_INL_H_
#else
#define LMFORGE_KERNELS_TILE_LOOP_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/matmul.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {

// Columns [c0, c1) of the product; with accumulate, tiles add to y instead of storing (the
// second and later column chunks of a cache-blocked product).
struct KRange {
  uint64_t c0;
  uint64_t c1;
  bool accumulate;
};

// The loop nest: token blocks (L2-sized), then weight rows RM at a time, then tokens RN at a
// time; leftovers with 1-row / 1-token tiles, so any [r0, r1) and any n are covered.

template <size_t RM, size_t RN, template <size_t, size_t> class Tile>
void RunTiles(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  const size_t n = x.n();
  const uint64_t cols = w.cols;
  // Prompt-sized batches are cache-blocked: a column chunk of RM weight rows (~16 KiB) stays in
  // L1 while every activation tile of the token block passes it, and the token block's chunk
  // (~256 KiB) stays in L2 while the weight rows stream past. Generation (a few rows) streams
  // whole rows once.
  uint64_t kc = cols;
  if (n > 4 && w.row_bytes > 0) {
    const uint64_t fit = (uint64_t{16} << 10) * cols / (RM * w.row_bytes);
    kc = fit / 64 * 64;
    if (kc < 64) kc = 64;
    if (kc >= cols) kc = cols;
  }
  const size_t x_bytes = x.row_bytes() * kc / (cols ? cols : 1) + 1;
  size_t tb = (size_t{256} << 10) / x_bytes;
  tb = tb < RN ? RN : tb / RN * RN;
  for (uint64_t k0 = 0; k0 < cols; k0 += kc) {
    const KRange k{k0, k0 + kc < cols ? k0 + kc : cols, k0 > 0};
    for (size_t t0 = 0; t0 < n; t0 += tb) {
      const size_t t1 = t0 + tb < n ? t0 + tb : n;
      uint64_t r = r0;
      for (; r + RM <= r1; r += RM) {
        size_t t = t0;
        for (; t + RN <= t1; t += RN) Tile<RM, RN>::Run(w, r, x, t, y, ldy, k);
        for (; t < t1; ++t) Tile<RM, 1>::Run(w, r, x, t, y, ldy, k);
      }
      for (; r < r1; ++r) {
        size_t t = t0;
        for (; t + RN <= t1; t += RN) Tile<1, RN>::Run(w, r, x, t, y, ldy, k);
        for (; t < t1; ++t) Tile<1, 1>::Run(w, r, x, t, y, ldy, k);
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
