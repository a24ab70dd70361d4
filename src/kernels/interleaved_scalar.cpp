// The interleaved layout (regrouping at load) and the plain C++ twin of matmul_interleaved():
// per row, per block, the arithmetic of matmul_packed_scalar() on the original blocks.
#include <cstring>

#include "core/half.h"
#include "kernels/interleaved.h"
#include "kernels/weight_types.h"
#include "quant/ggml_blocks.h"

namespace lmforge {

namespace {

constexpr size_t kChunk = 4;       // bytes of one row in one 32-bit lane
constexpr size_t kScaleBytes = 2 * InterleavedMatrix::kGroupRows;

}  // namespace

bool InterleavedMatrix::supports(DType type) {
  const KernelWeightType* kind = kernel_weight_type(type);
  return kind != nullptr && kind->interleaved;
}

InterleavedMatrix::InterleavedMatrix(const MatrixView& w)
    : type_(w.type),
      rows_(w.rows),
      cols_(w.cols),
      quant_bytes_(dtype_info(w.type).block_bytes - 2),  // the block less its f16 scale
      block_group_bytes_(kScaleBytes + kGroupRows * quant_bytes_) {
  const uint64_t nb = blocks_per_row();
  const size_t bytes = static_cast<size_t>(groups() * nb) * block_group_bytes_;
  data_ = hwy::AllocateAligned<uint8_t>(bytes > 0 ? bytes : 1);
  std::memset(data_.get(), 0, bytes);  // rows past the matrix: scale 0, quants 0
  const size_t src_block = 2 + quant_bytes_;
  for (uint64_t r = 0; r < rows_; ++r) {
    const uint64_t g = r / kGroupRows, i = r % kGroupRows;
    const uint8_t* src = w.row(r);
    for (uint64_t b = 0; b < nb; ++b, src += src_block) {
      uint8_t* dst = data_.get() + (g * nb + b) * block_group_bytes_;
      std::memcpy(dst + 2 * i, src, 2);
      for (size_t k = 0; k < quant_bytes_ / kChunk; ++k)
        std::memcpy(dst + kScaleBytes + (k * kGroupRows + i) * kChunk, src + 2 + k * kChunk, kChunk);
    }
  }
}

void InterleavedMatrix::original_block(uint64_t r, uint64_t b, uint8_t* out) const {
  const uint64_t i = r % kGroupRows;
  const uint8_t* src = block_group(r / kGroupRows, b);
  std::memcpy(out, src + 2 * i, 2);
  for (size_t k = 0; k < quant_bytes_ / kChunk; ++k)
    std::memcpy(out + 2 + k * kChunk, src + kScaleBytes + (k * kGroupRows + i) * kChunk, kChunk);
}

void matmul_interleaved_scalar(const InterleavedMatrix& w, const PackedActivations& x, float* y, size_t ldy,
                               uint64_t r0, uint64_t r1) {
  const uint64_t nb = w.blocks_per_row();
  const bool q8 = w.type() == DType::Q8_0;
  uint8_t blk[2 + kQK];
  for (size_t t = 0; t < x.n(); ++t) {
    const int8_t* q = x.quants(t);
    const float* d = x.block_scales(t);
    const float* s = x.block_sums(t);
    for (uint64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (uint64_t b = 0; b < nb; ++b) {
        w.original_block(r, b, blk);
        uint16_t h;
        std::memcpy(&h, blk, 2);
        const int8_t* qb = q + b * kQK;
        int32_t isum = 0;
        float sum;
        if (q8) {
          for (size_t j = 0; j < kQK; ++j) isum += static_cast<int8_t>(blk[2 + j]) * qb[j];
          sum = static_cast<float>(isum);
        } else {
          for (size_t j = 0; j < kQK / 2; ++j) {
            isum += (blk[2 + j] & 0x0F) * qb[j];
            isum += (blk[2 + j] >> 4) * qb[j + kQK / 2];
          }
          sum = static_cast<float>(isum) - 8.0f * s[b];  // exact: sum (n - 8) q = sum n q - 8 sum q
        }
        acc += (fp16_to_fp32(h) * d[b]) * sum;
      }
      y[t * ldy + r] = acc;
    }
  }
}

}  // namespace lmforge
