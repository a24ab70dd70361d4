// The AMX product's driver (kernels/amx_matmul.h): activation packing, row decoding into the
// panel and the loop over a thread's rows; the tile code itself is in amx_tiles.cpp.
#include "kernels/amx_matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/half.h"
#include "kernels/amx_kquants.h"
#include "kernels/amx_support.h"
#include "kernels/amx_tiles.h"
#include "kernels/decode_rows.h"
#include "kernels/weight_types.h"

namespace lmforge {

uint64_t AmxWeights::rows() const {
  return matrix ? matrix->rows : interleaved ? interleaved->rows() : gptq->rows();
}

uint64_t AmxWeights::cols() const {
  return matrix ? matrix->cols : interleaved ? interleaved->cols() : gptq->padded_cols();
}

size_t amx_min_tokens(const AmxWeights& w) {
  static const long forced = [] {
    const char* v = std::getenv("LMFORGE_AMX_MIN_TOKENS");
    return v && *v ? std::max(1L, std::strtol(v, nullptr, 10)) : 0L;
  }();
  if (forced > 0) return static_cast<size_t>(forced);
  // Interleaved Q4_0/Q8_0: the small-batch tiles of interleaved_matmul.cpp take up to 16 tokens
  // (AVX-512 VNNI, which every AMX CPU has) and at 16 decode rows cost 184 ms of CPU per
  // TinyLlama step against 265 ms on the tiles (which stay ~flat to 32 rows, where the
  // small-batch tiles would reach them): the tiles from 17 tokens on.
  if (w.interleaved) return 17;
  if (amx_int8_form(w)) return 16;
  // Q3_K...Q6_K on INT8 tiles (amx_kquants.h): decoded with AVX-512 as interleaved Q4_0.
  if (w.matrix && amx_kquant_int8(w.matrix->type)) return 16;
  // GPTQ rows are decoded by the scalar dequantize_padded_row: TinyLlama-shape pp128 measured
  // 120 t/s on the tiles against 171 t/s through the grouped integer kernel, about equal at 512
  // (docs/benchmarks.md). Past any chunk the engine makes, until the form has a SIMD decoder.
  if (w.gptq) return 1024;
  if (w.matrix && has_fast_decoder(w.matrix->type)) return 32;
  return 96;
}

bool amx_supports(DType t) {
  // F32 and F16 read float activations, of which this split keeps 16 of 24 bits: 1e-4 off the
  // float product in oracle.forward, its limit for F16 (F16 has its own exact three-part form,
  // kernels/amx_f16.h; the K-quants Q3_K-Q6_K take the INT8 form of kernels/amx_kquants.h
  // first, the engine decides). Q5_1 multiplies correctly on the int8
  // form (tests/kernels/amx_matmul_test.cpp), but llama.cpp sums its blocks in 8 lanes with
  // the minimum terms apart (ggml_vec_dot_q5_1_q8_1; it has no AMX kernel for Q5_1), as our
  // integer kernel nearly does, and the block-by-block order of the tiles moved
  // oracle.llama_probs_q32's tied-bin q5_1 from 1.4e-2 to 3.3e-2 (limit 0.03); Q4_1's tiles
  // have the order of llama.cpp's own AMX kernel for Q4_1.
  return kernel_weight_type(t) && t != DType::F32 && t != DType::F16 && t != DType::Q5_1;
}

namespace {

// Q4_1/Q5_1: their minimum multiplies llama.cpp's fp16-rounded block sums, which a plain
// product of the decoded weights cannot round the same way; the int8 form carries the sums.
bool has_minimum_blocks(DType t) {
  const KernelWeightType* k = kernel_weight_type(t);
  return k && k->activations == ActivationForm::kInt8BlocksScaledSums;
}

}  // namespace

bool amx_int8_form(const AmxWeights& w) {
  return w.interleaved || (w.matrix && has_minimum_blocks(w.matrix->type));
}

uint16_t bf16_round(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u | 0x400000u) >> 16);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

float bf16_to_float(uint16_t b) {
  const uint32_t u = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

Bf16Pair split_bf16(float x) {
  const uint16_t hi = bf16_round(x);
  return {hi, bf16_round(x - bf16_to_float(hi))};
}

void AmxActivations::reset(size_t n, uint64_t cols, bool int8) {
  n_ = n;
  cols_ = cols;
  int8_ = int8;
  steps_ = (cols + kStepInputs - 1) / kStepInputs;
  tiles_ = (n + 2 * kTileTokens - 1) / (2 * kTileTokens) * 2;
  if (int8) {
    // Codes: 32 bytes per (token, block), in uint16 units; scales one float each. Padding
    // tokens: zero codes and scales.
    data_.assign(tiles_ * kTileTokens * steps_ * 16 + 32, 0);
    base_ = aligned64(data_.data());
    scales_.assign(tiles_ * kTileTokens * steps_, 0.0f);
    sums_.assign(tiles_ * kTileTokens * steps_, 0.0f);
    return;
  }
  data_.resize(tiles_ * steps_ * amx_tiles::kActStepElems + 32);
  base_ = aligned64(data_.data());
  // Padding tokens of the last tile pair must be finite (their sums are computed, never
  // stored): zero them, and only them, not the whole buffer.
  for (size_t t = n; t < tiles_ * kTileTokens; ++t)
    for (uint64_t s = 0; s < steps_; ++s)
      for (size_t p = 0; p < 32; ++p) {  // 16 pairs of the high parts, then of the low ones
        uint16_t* pair = base_ + ((t / kTileTokens) * steps_ + s) * amx_tiles::kActStepElems + p * 32 +
                         (t % kTileTokens) * 2;
        pair[0] = pair[1] = 0;
      }
}

uint16_t* AmxActivations::column(size_t t) {
  return base_ + (t / kTileTokens) * steps_ * amx_tiles::kActStepElems + (t % kTileTokens) * 2;
}

void AmxActivations::pack_rows(const float* x, size_t ldx, size_t t0, size_t t1) {
  thread_local std::vector<float> row;
  row.assign(steps_ * kStepInputs, 0.0f);
  for (size_t t = t0; t < t1; ++t) {
    std::memcpy(row.data(), x + t * ldx, cols_ * sizeof(float));
    store_column(row.data(), t);
  }
}

void AmxActivations::pack_from(const PackedActivations& p, size_t t0, size_t t1) {
  if (int8_) {
    // Token t, block b, group g (inputs 4g..4g+3) -> row g of the B tile of (t / 16, b).
    int8_t* codes = reinterpret_cast<int8_t*>(base_);
    for (size_t t = t0; t < t1; ++t) {
      const int8_t* q = p.quants(t);
      const float* d = p.block_scales(t);
      const float* s = p.scaled_sums() ? p.block_sums(t) : nullptr;
      const size_t j = t / kTileTokens, tt = t % kTileTokens;
      for (uint64_t b = 0; b < steps_; ++b) {
        int8_t* blk = codes + (j * steps_ + b) * amx_tiles::kInt8ActBlock + tt * 4;
        for (size_t g = 0; g < 8; ++g) std::memcpy(blk + g * 64, q + b * 32 + g * 4, 4);
        scales_[(j * steps_ + b) * kTileTokens + tt] = d[b];
        if (s) sums_[(j * steps_ + b) * kTileTokens + tt] = s[b];
      }
    }
    return;
  }
  thread_local std::vector<float> row;
  row.assign(steps_ * kStepInputs, 0.0f);
  const uint64_t block = p.is_super_blocks() ? 256 : 32;
  for (size_t t = t0; t < t1; ++t) {
    if (!p.is_quantized()) {
      std::memcpy(row.data(), p.floats(t), cols_ * sizeof(float));
    } else {
      // The 8-bit codes times their block scale: exactly the activations the integer kernels
      // multiply (codes of 7 bits times an fp16 scale are exact floats; Q8_K's float scale
      // rounds once).
      const int8_t* q = p.quants(t);
      const float* d = p.block_scales(t);
      for (uint64_t k0 = 0; k0 < cols_; k0 += block) {
        const float scale = d[k0 / block];
        for (uint64_t k = k0; k < k0 + block; ++k) row[k] = static_cast<float>(q[k]) * scale;
      }
    }
    store_column(row.data(), t);
  }
}

void AmxActivations::store_column(const float* row, size_t t) {
#ifdef LMFORGE_AMX_COMPILED
  if (amx_usable()) return amx_tiles::floats_to_token_column(row, steps_, column(t));
#endif
  uint16_t* col = column(t);
  for (uint64_t k = 0; k < steps_ * kStepInputs; ++k) {
    const Bf16Pair v = split_bf16(row[k]);
    const size_t at = (k / kStepInputs) * amx_tiles::kActStepElems + (k % kStepInputs) / 2 * 32 + k % 2;
    col[at] = v.hi;
    col[at + amx_tiles::kActPart] = v.lo;
  }
}

int8_t AmxActivations::int8_code(size_t t, uint64_t k) const {
  const size_t j = t / kTileTokens, tt = t % kTileTokens;
  const uint64_t b = k / 32, g = (k % 32) / 4;
  return int8_codes()[(j * steps_ + b) * amx_tiles::kInt8ActBlock + g * 64 + tt * 4 + k % 4];
}

float AmxActivations::int8_scale(size_t t, uint64_t b) const {
  return scales_[(t / kTileTokens * steps_ + b) * kTileTokens + t % kTileTokens];
}

float AmxActivations::int8_sum(size_t t, uint64_t b) const {
  return sums_[(t / kTileTokens * steps_ + b) * kTileTokens + t % kTileTokens];
}

Bf16Pair AmxActivations::at(size_t t, uint64_t k) const {
  const uint16_t* v = base_ + ((t / kTileTokens) * steps_ + k / kStepInputs) * amx_tiles::kActStepElems +
                      (k % kStepInputs) / 2 * 32 + (t % kTileTokens) * 2 + k % 2;
  return {v[0], v[amx_tiles::kActPart]};
}

#ifdef LMFORGE_AMX_COMPILED
namespace {

// Interleaved Q4_0/Q8_0 rows [r0, r1) on INT8 tiles (x in its int8 form).
void int8_product(const InterleavedMatrix& il, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1,
                  float* acc) {
  const uint64_t nb = il.blocks_per_row();
  thread_local std::vector<int8_t> code_storage;
  thread_local std::vector<float> scales;
  code_storage.resize(nb * amx_tiles::kInt8PanelBlock + 64);
  scales.resize(nb * 32);
  int8_t* codes = aligned64(code_storage.data());
  const bool q8 = il.type() == DType::Q8_0;
  std::vector<uint8_t> block(2 + il.quant_bytes());
  for (uint64_t r = r0; r < r1; r += amx_tiles::kPanelRows) {
    const size_t rows = static_cast<size_t>(std::min<uint64_t>(amx_tiles::kPanelRows, r1 - r));
    const size_t used = rows <= 16 ? 16 : 32;
    size_t i = 0;
    if (r % InterleavedMatrix::kGroupRows == 0) {
      const size_t n_groups = std::min((rows + InterleavedMatrix::kGroupRows - 1) / InterleavedMatrix::kGroupRows,
                                       static_cast<size_t>(il.groups() - r / InterleavedMatrix::kGroupRows));
      amx_tiles::interleaved_groups_to_int8_panel(il.group(r / InterleavedMatrix::kGroupRows),
                                                  nb * il.block_group_bytes(), il.block_group_bytes(), nb, q8,
                                                  n_groups, codes, scales.data());
      i = std::min(used, n_groups * InterleavedMatrix::kGroupRows);
    }
    // Rows that do not start a group (ranges cut inside one), and padding: one block at a time
    // from the original blocks.
    for (; i < used; ++i) {
      for (uint64_t b = 0; b < nb; ++b) {
        int8_t* dst = codes + b * amx_tiles::kInt8PanelBlock + i * 32;
        float& d = scales[b * 32 + i];
        if (i >= rows) {
          std::memset(dst, 0, 32);
          d = 0.0f;
          continue;
        }
        il.original_block(r + i, b, block.data());
        uint16_t h;
        std::memcpy(&h, block.data(), 2);
        d = fp16_to_fp32(h);
        for (size_t k = 0; k < 32; ++k)
          dst[k] = q8 ? static_cast<int8_t>(block[2 + k])
                      : static_cast<int8_t>(((k < 16 ? block[2 + k] : block[2 + k - 16] >> 4) & 15) - 8);
      }
    }
    amx_tiles::int8_panel_product(codes, scales.data(), nullptr, x.int8_codes(), x.int8_scales(), nullptr, nb,
                                  x.token_tiles(), x.n(), rows, y + r, ldy, acc);
  }
}

// Q4_1/Q5_1 rows [r0, r1) held in place on INT8 tiles (x in its int8 form, with scaled sums):
// the unsigned codes against the activation codes, then the scale and the minimum per block.
void min_blocks_int8_product(const MatrixView& m, const AmxActivations& x, float* y, size_t ldy, uint64_t r0,
                             uint64_t r1, float* acc) {
  const uint64_t nb = m.cols / 32;
  thread_local std::vector<int8_t> code_storage;
  thread_local std::vector<float> scales, minimums;
  code_storage.resize(nb * amx_tiles::kInt8PanelBlock + 64);
  scales.resize(nb * 32);
  minimums.resize(nb * 32);
  int8_t* codes = aligned64(code_storage.data());
  const bool q5 = m.type == DType::Q5_1;
  for (uint64_t r = r0; r < r1; r += amx_tiles::kPanelRows) {
    const size_t rows = static_cast<size_t>(std::min<uint64_t>(amx_tiles::kPanelRows, r1 - r));
    amx_tiles::min_blocks_to_int8_panel(m.row(r), m.row_bytes, rows, nb, q5, codes, scales.data(), minimums.data());
    amx_tiles::int8_panel_product(codes, scales.data(), minimums.data(), x.int8_codes(), x.int8_scales(),
                                  x.int8_sums(), nb, x.token_tiles(), x.n(), rows, y + r, ldy, acc);
  }
}

}  // namespace

void matmul_amx(const AmxWeights& w, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  // amx_usable() also asks the kernel for the tile state, without which the first tile
  // instruction faults; it is computed once, so asking here costs a load.
  if (!amx_usable()) return matmul_amx_scalar(w, x, y, ldy, r0, r1);
  const uint64_t steps = x.steps();
  // Per thread, reused across products: the bf16 panel and one decoded float row.
  thread_local std::vector<uint16_t> panel_storage;
  thread_local std::vector<float> row, acc_storage;
  acc_storage.resize(x.token_tiles() * 512 + 16);
  float* acc = aligned64(acc_storage.data());
  panel_storage.resize(steps * amx_tiles::kStepElems + 32);
  uint16_t* panel = aligned64(panel_storage.data());  // whole cache lines per tile row
  row.assign(steps * AmxActivations::kStepInputs, 0.0f);  // inputs past cols stay 0
  const InterleavedMatrix* il = w.interleaved;
  if (il && x.int8()) return int8_product(*il, x, y, ldy, r0, r1, acc);
  if (w.matrix && x.int8()) return min_blocks_int8_product(*w.matrix, x, y, ldy, r0, r1, acc);
  for (uint64_t r = r0; r < r1; r += amx_tiles::kPanelRows) {
    const size_t rows = static_cast<size_t>(std::min<uint64_t>(amx_tiles::kPanelRows, r1 - r));
    const size_t used = rows <= 16 ? 16 : 32;  // panel rows the tiles read
    size_t i = 0;
    if (il && r % InterleavedMatrix::kGroupRows == 0) {
      // Whole groups, block by block: the fast way, for ranges that start at a group.
      const size_t n_groups = (rows + InterleavedMatrix::kGroupRows - 1) / InterleavedMatrix::kGroupRows;
      amx_tiles::interleaved_groups_to_panel(il->group(r / InterleavedMatrix::kGroupRows),
                                             il->blocks_per_row() * il->block_group_bytes(), il->block_group_bytes(),
                                             il->blocks_per_row(), il->type() == DType::Q8_0, n_groups, panel);
      i = std::min(used, n_groups * InterleavedMatrix::kGroupRows);
    }
    for (; i < used; ++i) {
      if (i >= rows) {
        for (uint64_t s = 0; s < steps; ++s) {
          std::memset(panel + s * amx_tiles::kStepElems + i * 32, 0, 64);
          std::memset(panel + s * amx_tiles::kStepElems + amx_tiles::kPanelPart + i * 32, 0, 64);
        }
        continue;
      }
      const uint64_t wr = r + i;
      if (il) {
        amx_tiles::interleaved_row_to_panel(il->group(wr / InterleavedMatrix::kGroupRows), il->block_group_bytes(),
                                            wr % InterleavedMatrix::kGroupRows, il->blocks_per_row(),
                                            il->type() == DType::Q8_0, panel, i);
        continue;
      }
      if (w.gptq) {
        w.gptq->dequantize_padded_row(wr, row.data());
      } else {
        decode_row_fast(w.matrix->type, w.matrix->row(wr), row.data(), w.matrix->cols);
      }
      amx_tiles::floats_to_panel_row(row.data(), steps, panel, i);
    }
    amx_tiles::panel_product(panel, x.tile(0, 0), steps, x.token_tiles(), x.n(), rows, y + r, ldy, acc);
  }
}
#else
void matmul_amx(const AmxWeights& w, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  matmul_amx_scalar(w, x, y, ldy, r0, r1);  // never reached: amx_usable() is false
}
#endif

}  // namespace lmforge
