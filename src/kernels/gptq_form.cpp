// Building the GPTQ form at load and the parts of its products that are not SIMD: the
// gather, the group sums, the reference product and the scalar twin.
#include "kernels/gptq_form.h"

#include <algorithm>
#include <cstring>

#include "core/half.h"
#include "quant/ggml_blocks.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

// The sorted, padded input order: group g occupies positions [g * per_group, (g + 1) *
// per_group), its inputs in ascending order, then padding (-1).
std::vector<int32_t> padded_order(const GptqMatrix& m, uint64_t* per_group) {
  std::vector<uint64_t> count(m.groups, 0);
  for (uint64_t i = 0; i < m.in; ++i) ++count[m.g_idx[i]];
  const uint64_t most = m.groups ? *std::max_element(count.begin(), count.end()) : 0;
  *per_group = std::max<uint64_t>(kQK, (most + kQK - 1) / kQK * kQK);
  std::vector<int32_t> map(m.groups * *per_group, -1);
  std::vector<uint64_t> next(m.groups, 0);
  for (uint64_t i = 0; i < m.in; ++i) {
    const uint32_t g = m.g_idx[i];
    map[g * *per_group + next[g]++] = static_cast<int32_t>(i);
  }
  return map;
}

MatrixView blocks_view(const GptqMatrix& m, const std::vector<int32_t>& map, uint64_t per_group,
                       std::vector<uint8_t>& buf, std::vector<float>& offsets) {
  const bool q8 = m.bits == 8;
  const size_t block_bytes = q8 ? kQ8_0BlockBytes : kQ4_0BlockBytes;
  const uint64_t padded = map.size(), nb = padded / kQK, bpg = per_group / kQK;
  const int bias = q8 ? 128 : 8;
  buf.assign(m.out * nb * block_bytes, 0);
  offsets.assign(m.out * m.groups, 0.0f);
  uint8_t c[kQK];
  bool in_order = padded == m.in;  // every position j holds input j: copy codes as they are
  for (uint64_t j = 0; j < padded && in_order; ++j) in_order = map[j] == static_cast<int32_t>(j);
  for (uint64_t r = 0; r < m.out; ++r) {
    uint8_t* row = buf.data() + r * nb * block_bytes;
    for (uint32_t g = 0; g < m.groups; ++g) {
      const uint16_t d = fp32_to_fp16(m.scale(g, r));
      offsets[r * m.groups + g] = fp16_to_fp32(d) * static_cast<float>(bias - m.zero(g, r));
      for (uint64_t b = g * bpg; b < (g + 1) * bpg; ++b) {
        uint8_t* blk = row + b * block_bytes;
        std::memcpy(blk, &d, 2);
        if (in_order) {
          std::memcpy(c, &m.codes[r * m.in + b * kQK], kQK);
        } else {
          for (size_t j = 0; j < kQK; ++j) {
            const int32_t i = map[b * kQK + j];
            c[j] = i >= 0 ? m.code(r, static_cast<uint64_t>(i)) : static_cast<uint8_t>(bias);
          }
        }
        if (q8) {
          for (size_t j = 0; j < kQK; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(int{c[j]} - 128));
        } else {
          for (size_t j = 0; j < kQK / 2; ++j) blk[2 + j] = static_cast<uint8_t>(c[j] | (c[j + kQK / 2] << 4));
        }
      }
    }
  }
  return MatrixView{q8 ? DType::Q8_0 : DType::Q4_0, buf.data(), m.out, padded, nb * block_bytes};
}

}  // namespace

GptqForm::GptqForm(const GptqMatrix& m)
    : rows_(m.out), cols_(m.in), bits_(m.bits), groups_(m.groups), x_map_(padded_order(m, &blocks_per_group_)) {
  const uint64_t per_group = blocks_per_group_;  // padded_order gave inputs per group, a multiple of 32
  blocks_per_group_ /= kQK;
  gathers_ = x_map_.size() != cols_;
  for (size_t j = 0; j < x_map_.size() && !gathers_; ++j) gathers_ = x_map_[j] != static_cast<int32_t>(j);
  if (GptqGroupedMatrix::supports(m)) {
    grouped_ = std::make_unique<const GptqGroupedMatrix>(m);
    return;
  }
  // The row-major blocks are a temporary, freed once regrouped.
  std::vector<uint8_t> buf;
  const MatrixView blocks = blocks_view(m, x_map_, per_group, buf, offsets_);
  activation_type_ = blocks.type;
  core_ = std::make_unique<const InterleavedMatrix>(blocks);
  bool any_offset = false;
  for (float o : offsets_) any_offset = any_offset || o != 0.0f;
  if (!any_offset) std::vector<float>().swap(offsets_);
}

uint64_t GptqForm::bytes() const {
  const uint64_t weights = grouped_ ? grouped_->bytes()
                                    : core_->groups() * core_->blocks_per_row() * core_->block_group_bytes();
  return weights + offsets_.size() * sizeof(float) + x_map_.size() * sizeof(int32_t);
}

void GptqForm::dequantize_padded_row(uint64_t r, float* out) const {
  if (grouped_) return grouped_->dequantize_row(r, out);  // no padding: the model's own order
  uint8_t blk[2 + kQK];
  const uint64_t nb = padded_cols() / kQK;
  for (uint64_t b = 0; b < nb; ++b) {
    core_->original_block(r, b, blk);
    decode_row(core_->type(), blk, out + b * kQK, kQK);
    const float off = has_offsets() ? offsets(r)[b / blocks_per_group_] : 0.0f;
    for (size_t j = 0; j < kQK; ++j) {
      const bool pad = x_map_[b * kQK + j] < 0;
      out[b * kQK + j] = pad ? 0.0f : out[b * kQK + j] + off;
    }
  }
}

void gptq_gather_rows(const GptqForm& w, const float* x, size_t ldx, size_t t0, size_t t1, float* out) {
  const auto& map = w.x_map();
  const size_t p = map.size();
  for (size_t t = t0; t < t1; ++t) {
    const float* xr = x + t * ldx;
    float* o = out + (t - t0) * p;
    for (size_t j = 0; j < p; ++j) o[j] = map[j] >= 0 ? xr[map[j]] : 0.0f;
  }
}

void gptq_group_sums(const GptqForm& w, const PackedActivations& x, size_t t, float* sums) {
  gptq_block_group_sums(w.groups(), w.blocks_per_group(), x, t, sums);
}

void matmul_gptq_scalar(const GptqForm& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (w.grouped()) return matmul_gptq_grouped_scalar(w.grouped_matrix(), x, y, ldy, r0, r1);
  matmul_interleaved_scalar(w.core(), x, y, ldy, r0, r1);
  if (!w.has_offsets()) return;
  std::vector<float> sums(w.groups());
  for (size_t t = 0; t < x.n(); ++t) {
    gptq_group_sums(w, x, t, sums.data());
    for (uint64_t r = r0; r < r1; ++r) {
      const float* off = w.offsets(r);
      float acc = 0.0f;
      for (uint32_t g = 0; g < w.groups(); ++g) acc += off[g] * sums[g];
      y[t * ldy + r] += acc;
    }
  }
}

void matmul_gptq_ref(const GptqForm& w, const float* x, float* y) {
  std::vector<float> xp(w.padded_cols()), row(w.padded_cols());
  gptq_gather_rows(w, x, 0, 0, 1, xp.data());
  for (uint64_t r = 0; r < w.rows(); ++r) {
    w.dequantize_padded_row(r, row.data());
    double acc = 0.0;
    for (size_t j = 0; j < row.size(); ++j) acc += double{row[j]} * double{xp[j]};
    y[r] = static_cast<float>(acc);
  }
}

}  // namespace lmforge
