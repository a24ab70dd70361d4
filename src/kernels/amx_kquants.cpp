// The K-quant AMX product's driver (kernels/amx_kquants.h): the activations' tile layout and
// the loop over a thread's rows; the tile code is in amx_tiles_kquants.cpp.
#include "kernels/amx_kquants.h"

#include <algorithm>
#include <cstring>

#include "kernels/amx_support.h"
#include "kernels/amx_tiles_kquants.h"
#include "kernels/kquant_blocks.h"

namespace lmforge {

bool amx_kquant_int8(DType t) {
  return t == DType::Q3_K || t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K;
}

void AmxKquantActivations::reset(size_t n, uint64_t cols) {
  n_ = n;
  cols_ = cols;
  nk_ = cols / kSuperBlock;
  tiles_ = (n + 2 * kTileTokens - 1) / (2 * kTileTokens) * 2;
  storage_.assign(tiles_ * nk_ * kBlockCodes + 64, 0);
  codes_ = aligned64(storage_.data());
  scales_.assign(tiles_ * nk_ * kTileTokens, 0.0f);
  sums_.assign(tiles_ * nk_ * kBlockSums, 0);
}

void AmxKquantActivations::pack_from(const PackedActivations& p, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; ++t) {
    const int8_t* q = p.quants(t);
    const float* d = p.block_scales(t);
    const int16_t* s16 = p.group_sums(t);
    const size_t j = t / kTileTokens, tt = t % kTileTokens;
    for (uint64_t b = 0; b < nk_; ++b) {
      const size_t at = j * nk_ + b;
      // Inputs 64k + 4g .. + 3 go to row g of step k's B tile, token column tt.
      int8_t* blk = codes_ + at * kBlockCodes + tt * 4;
      const int8_t* src = q + b * kSuperBlock;
      for (size_t k = 0; k < 4; ++k)
        for (size_t g = 0; g < 16; ++g) std::memcpy(blk + k * 1024 + g * 64, src + 64 * k + 4 * g, 4);
      scales_[at * kTileTokens + tt] = d[b];
      // 32-input sums (two 16-code sums; |sum| <= 32 * 128 fits int16), in pairs of sub-blocks.
      const int16_t* g16 = s16 + b * (kSuperBlock / 16);
      int16_t* pairs = sums_.data() + at * kBlockSums + tt * 2;
      for (size_t s = 0; s < 8; ++s)
        pairs[(s / 2) * 32 + s % 2] = static_cast<int16_t>(g16[2 * s] + g16[2 * s + 1]);
    }
  }
}

int8_t AmxKquantActivations::code(size_t t, uint64_t k) const {
  const size_t at = (t / kTileTokens) * nk_ + k / kSuperBlock;
  const uint64_t i = k % kSuperBlock;
  return codes_[at * kBlockCodes + (i / 64) * 1024 + ((i % 64) / 4) * 64 + (t % kTileTokens) * 4 + i % 4];
}

float AmxKquantActivations::scale(size_t t, uint64_t b) const {
  return scales_[((t / kTileTokens) * nk_ + b) * kTileTokens + t % kTileTokens];
}

int16_t AmxKquantActivations::sum32(size_t t, uint64_t b, size_t s) const {
  return sums_[((t / kTileTokens) * nk_ + b) * kBlockSums + (s / 2) * 32 + (t % kTileTokens) * 2 + s % 2];
}

#ifdef LMFORGE_AMX_COMPILED
void matmul_amx_kquants(const MatrixView& w, const AmxKquantActivations& x, float* y, size_t ldy, uint64_t r0,
                        uint64_t r1) {
  // amx_usable() also asks the kernel for the tile state, without which the first tile
  // instruction faults.
  if (!amx_usable()) return matmul_amx_kquants_scalar(w, x, y, ldy, r0, r1);
  using amx_kquant_tiles::Kind;
  const Kind kind = w.type == DType::Q4_K   ? Kind::kQ4K
                    : w.type == DType::Q5_K ? Kind::kQ5K
                    : w.type == DType::Q6_K ? Kind::kQ6K
                                            : Kind::kQ3K;
  // Per thread, reused across products: one super-block panel and the float accumulators.
  thread_local std::vector<int8_t> panel_storage;
  thread_local std::vector<float> acc_storage;
  panel_storage.resize(amx_kquant_tiles::kPanelBytes + 64);
  acc_storage.resize(x.token_tiles() * 512 + 16);
  int8_t* panel = aligned64(panel_storage.data());
  float* acc = aligned64(acc_storage.data());
  for (uint64_t r = r0; r < r1; r += 32) {
    const size_t rows = static_cast<size_t>(std::min<uint64_t>(32, r1 - r));
    amx_kquant_tiles::kquant_rows_product(kind, w.row(r), w.row_bytes, kquant_block_bytes(w.type), x.super_blocks(),
                                          rows, x.codes(), x.scales(), x.sums(), x.token_tiles(), x.n(), y + r, ldy,
                                          panel, acc);
  }
}
#else
void matmul_amx_kquants(const MatrixView& w, const AmxKquantActivations& x, float* y, size_t ldy, uint64_t r0,
                        uint64_t r1) {
  matmul_amx_kquants_scalar(w, x, y, ldy, r0, r1);  // never reached by the engine: amx_usable() is false
}
#endif

}  // namespace lmforge
