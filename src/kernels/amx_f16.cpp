// The F16 AMX product's driver (kernels/amx_f16.h): the three-part activation packing and the
// loop over a thread's rows, 32 at a time decoded into a panel; the tile code is in
// amx_f16_tiles.cpp.
#include "kernels/amx_f16.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/amx_f16_tiles.h"
#include "kernels/amx_matmul.h"
#include "kernels/amx_support.h"

namespace lmforge {

Bf16Triple split_bf16_3(float x) {
  const uint16_t hi = bf16_round(x);
  const float h = bf16_to_float(hi);
  if (!std::isfinite(h)) return {hi, 0, 0};
  const float rest = x - h;  // exact: x and h agree in sign and exponent up to one step
  const uint16_t mid = bf16_round(rest);
  return {hi, mid, bf16_round(rest - bf16_to_float(mid))};
}

bool amx_f16_supports(DType t) { return t == DType::F16; }

bool amx_f16_or_f32_supports(DType t) { return t == DType::F16 || t == DType::F32; }

void AmxF16Activations::reset(size_t n, uint64_t cols) {
  n_ = n;
  cols_ = cols;
  steps_ = (cols + kStepInputs - 1) / kStepInputs;
  tiles_ = (n + 2 * kTileTokens - 1) / (2 * kTileTokens) * 2;
  data_.resize(tiles_ * steps_ * kTileElems + 32);
  base_ = aligned64(data_.data());
  // Padding tokens of the last tile pair must be finite (their sums are computed, never
  // stored): zero them, and only them.
  for (size_t t = n; t < tiles_ * kTileTokens; ++t)
    for (uint64_t s = 0; s < steps_; ++s)
      for (size_t p = 0; p < 3 * 16; ++p) {  // 16 pairs of each part
        uint16_t* pair = column(t) + s * kTileElems + p * 32;
        pair[0] = pair[1] = 0;
      }
}

uint16_t* AmxF16Activations::column(size_t t) {
  return base_ + (t / kTileTokens) * steps_ * kTileElems + (t % kTileTokens) * 2;
}

void AmxF16Activations::pack_rows(const float* x, size_t ldx, size_t t0, size_t t1) {
  thread_local std::vector<float> row;
  row.assign(steps_ * kStepInputs, 0.0f);  // inputs past cols stay 0
  for (size_t t = t0; t < t1; ++t) {
    std::memcpy(row.data(), x + t * ldx, cols_ * sizeof(float));
    uint16_t* col = column(t);
#ifdef LMFORGE_AMX_COMPILED
    if (amx_usable()) {  // the AVX-512 split (amx_usable() implies the CPU has it)
      amx_f16_tiles::floats_to_token_column(row.data(), steps_, col);
      continue;
    }
#endif
    for (uint64_t k = 0; k < steps_ * kStepInputs; ++k) {
      const Bf16Triple v = split_bf16_3(row[k]);
      uint16_t* at = col + (k / kStepInputs) * kTileElems + (k % kStepInputs) / 2 * 32 + k % 2;
      at[0] = v.hi;
      at[kPartElems] = v.mid;
      at[2 * kPartElems] = v.lo;
    }
  }
}

Bf16Triple AmxF16Activations::at(size_t t, uint64_t k) const {
  const uint16_t* v = base_ + ((t / kTileTokens) * steps_ + k / kStepInputs) * kTileElems +
                      (k % kStepInputs) / 2 * 32 + (t % kTileTokens) * 2 + k % 2;
  return {v[0], v[kPartElems], v[2 * kPartElems]};
}

#ifdef LMFORGE_AMX_COMPILED
void matmul_amx_f16(const MatrixView& w, const AmxF16Activations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  // amx_usable() also asks the kernel for the tile state, without which the first tile
  // instruction faults.
  if (!amx_usable()) return matmul_amx_f16_scalar(w, x, y, ldy, r0, r1);
  namespace at = amx_f16_tiles;
  const uint64_t steps = x.steps();
  const bool f32 = w.type == DType::F32;
  const size_t panel_step = f32 ? at::kPanelStepF32 : at::kPanelStep;
  // Activations larger than L2 (128 tokens of a 5632-input row are 4.3 MB in three parts) are
  // read once per 64 rows, two panels, instead of per 32; smaller ones stay in L2 anyway, and
  // there the second panel only crowds them. One thread, 128 tokens, CPU time, load 8.4-9.2,
  // alternating: 2048 x 5632 20.9-22.3 ms with two panels, 21.8-22.7 with one (a small gain);
  // 2048 x 2048 (1.5 MB of activations) 5.67 / 5.86 with two, 5.35 / 5.31 with one.
  const size_t act_bytes = x.token_tiles() * steps * AmxF16Activations::kTileElems * 2;
  const size_t panels_per_pass = act_bytes > (size_t{2} << 20) ? 2 : 1;
  const uint64_t rows_per_pass = panels_per_pass * at::kPanelRows;
  thread_local std::vector<uint16_t> panel_storage;
  thread_local std::vector<float> acc_storage;
  acc_storage.resize(panels_per_pass * x.token_tiles() * 512 + 16);
  float* acc = aligned64(acc_storage.data());
  panel_storage.resize(panels_per_pass * steps * panel_step + 32);
  uint16_t* panels = aligned64(panel_storage.data());  // whole cache lines per tile row
  for (uint64_t r = r0; r < r1; r += rows_per_pass) {
    const size_t rows = static_cast<size_t>(std::min<uint64_t>(rows_per_pass, r1 - r));
    const size_t n_panels = (rows + at::kPanelRows - 1) / at::kPanelRows;
    for (size_t p = 0; p < n_panels; ++p) {
      const size_t panel_rows = std::min(at::kPanelRows, rows - p * at::kPanelRows);
      (f32 ? at::f32_rows_to_panel : at::f16_rows_to_panel)(w.row(r + p * at::kPanelRows), w.row_bytes, panel_rows,
                                                             panel_rows <= 16 ? 16 : 32, w.cols, steps,
                                                             panels + p * steps * panel_step);
    }
    // The next rows, fetched while the tiles run: model-sized weights from memory, one thread,
    // 128 tokens, 5632 x 2048 (bench f16_prompt_stream): 413-416 ms per 640 MB pass with it,
    // 439-453 without (32-row panels).
    const uint64_t next_rows = r + rows < r1 ? std::min<uint64_t>(rows_per_pass, r1 - r - rows) : 0;
    at::panel_product(panels, n_panels, x.tile(0, 0), steps, x.token_tiles(), x.n(), rows, y + r, ldy, acc,
                      w.row(r + rows), static_cast<size_t>(next_rows * w.row_bytes), f32);
  }
}
#else
void matmul_amx_f16(const MatrixView& w, const AmxF16Activations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  matmul_amx_f16_scalar(w, x, y, ldy, r0, r1);  // never reached from the engine: amx_usable() is false
}
#endif

}  // namespace lmforge
