// Building the grouped GPTQ 4-bit form, reading it back, the per-token group sums and the
// scalar twin of its product (the SIMD kernels are in gptq_grouped_matmul.cpp).
#include "kernels/gptq_grouped.h"

#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/half.h"
#include "quant/ggml_blocks.h"

namespace lmforge {

namespace {

constexpr uint64_t kG = GptqGroupedMatrix::kGroupRows;

size_t padded_params_bytes(uint32_t groups) {
  const size_t raw = size_t{groups} * GptqGroupedMatrix::kParamBytes;
  return (raw + 63) / 64 * 64;
}

}  // namespace

bool GptqGroupedMatrix::supports(const GptqMatrix& m) {
  if (m.bits != 4 || m.groups == 0 || m.in == 0 || m.in % m.groups != 0) return false;
  const uint64_t group_size = m.in / m.groups;
  return group_size % kQK == 0 && m.sequential_groups(group_size);
}

GptqGroupedMatrix::GptqGroupedMatrix(const GptqMatrix& m)
    : rows_(m.out), cols_(m.in), groups_(m.groups), params_bytes_(padded_params_bytes(m.groups)) {
  if (!supports(m)) throw std::invalid_argument("GPTQ linear has no grouped 4-bit form");
  blocks_per_group_ = cols_ / groups_ / kQK;
  const size_t total = row_groups() * row_group_bytes();
  data_ = hwy::AllocateAligned<uint8_t>(total);
  std::memset(data_.get(), 0, total);
  for (uint64_t r = 0; r < rows_; ++r) {
    const uint64_t rg = r / kG, i = r % kG;
    uint8_t* p = data_.get() + rg * row_group_bytes();
    for (uint32_t g = 0; g < groups_; ++g) {
      uint8_t* gp = p + g * kParamBytes;
      const uint16_t s = fp32_to_fp16(m.scale(g, r));
      std::memcpy(gp + 2 * i, &s, 2);
      gp[2 * kG + i] = static_cast<uint8_t>(static_cast<int8_t>(m.zero(g, r)));
    }
    uint8_t* blocks = p + params_bytes_;
    const uint8_t* codes = &m.codes[r * cols_];
    for (uint64_t b = 0; b < blocks_per_row(); ++b) {
      const uint8_t* c = codes + b * kQK;
      uint8_t* blk = blocks + b * kBlockBytes;
      for (size_t j = 0; j < kQK / 2; ++j) {
        const size_t k = j / 4, byte = j % 4;
        blk[k * 4 * kG + i * 4 + byte] = static_cast<uint8_t>(c[j] | (c[j + kQK / 2] << 4));
      }
    }
  }
}

float GptqGroupedMatrix::scale(uint64_t r, uint32_t g) const {
  uint16_t s;
  std::memcpy(&s, params(r / kG) + g * kParamBytes + 2 * (r % kG), 2);
  return fp16_to_fp32(s);
}

int GptqGroupedMatrix::zero(uint64_t r, uint32_t g) const {
  return static_cast<int8_t>(params(r / kG)[g * kParamBytes + 2 * kG + r % kG]);
}

void GptqGroupedMatrix::block_codes(uint64_t r, uint64_t b, uint8_t* codes) const {
  const uint8_t* blk = blocks(r / kG) + b * kBlockBytes;
  const uint64_t i = r % kG;
  for (size_t j = 0; j < kQK / 2; ++j) {
    const uint8_t v = blk[(j / 4) * 4 * kG + i * 4 + j % 4];
    codes[j] = v & 0x0F;
    codes[j + kQK / 2] = v >> 4;
  }
}

void GptqGroupedMatrix::dequantize_row(uint64_t r, float* out) const {
  uint8_t c[kQK];
  for (uint64_t b = 0; b < blocks_per_row(); ++b) {
    const uint32_t g = static_cast<uint32_t>(b / blocks_per_group_);
    const float s = scale(r, g);
    const int z = zero(r, g);
    block_codes(r, b, c);
    for (size_t j = 0; j < kQK; ++j) out[b * kQK + j] = s * static_cast<float>(int{c[j]} - z);
  }
}

void gptq_block_group_sums(uint32_t groups, uint64_t bpg, const PackedActivations& x, size_t t, float* sums) {
  const float* d = x.block_scales(t);
  const float* s = x.block_sums(t);
  for (uint32_t g = 0; g < groups; ++g) {
    float acc = 0.0f;
    for (uint64_t b = g * bpg; b < (g + 1) * bpg; ++b) acc += d[b] * s[b];
    sums[g] = acc;
  }
}

void matmul_gptq_grouped_scalar(const GptqGroupedMatrix& w, const PackedActivations& x, float* y, size_t ldy,
                                uint64_t r0, uint64_t r1) {
  std::vector<float> sums(w.groups());
  uint8_t c[kQK];
  const uint64_t bpg = w.blocks_per_group();
  for (size_t t = 0; t < x.n(); ++t) {
    gptq_grouped_sums(w, x, t, sums.data());
    const int8_t* q = x.quants(t);
    const float* d = x.block_scales(t);
    for (uint64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (uint32_t g = 0; g < w.groups(); ++g) {
        float group = 0.0f;  // sum over the group's blocks of d_x[b] * sum code * q
        for (uint64_t b = g * bpg; b < (g + 1) * bpg; ++b) {
          w.block_codes(r, b, c);
          int32_t dot = 0;
          for (size_t j = 0; j < kQK; ++j) dot += int32_t{c[j]} * q[b * kQK + j];
          group += static_cast<float>(dot) * d[b];
        }
        acc += w.scale(r, g) * (group - static_cast<float>(w.zero(r, g)) * sums[g]);
      }
      y[t * ldy + r] = acc;
    }
  }
}

}  // namespace lmforge
