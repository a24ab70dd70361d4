// matmul_amx_scalar (kernels/amx_matmul.h): the AMX product's arithmetic in plain C++, with
// weights decoded by the quant layer's reference decoders (the INT8 forms: codes read from the
// block bytes here), for the tests to compare against.
#include <cmath>
#include <cstring>
#include <vector>

#include "core/half.h"

#include "kernels/amx_matmul.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

// Row r of w as floats, cols() values, through the reference decoders.
void reference_row(const AmxWeights& w, uint64_t r, float* out) {
  if (w.gptq) return w.gptq->dequantize_padded_row(r, out);
  if (w.matrix) return decode_row(w.matrix->type, w.matrix->row(r), out, w.matrix->cols);
  const InterleavedMatrix& il = *w.interleaved;
  std::vector<uint8_t> block(2 + il.quant_bytes());
  for (uint64_t b = 0; b < il.blocks_per_row(); ++b) {
    il.original_block(r, b, block.data());
    decode_row(il.type(), block.data(), out + 32 * b, 32);
  }
}

// Interleaved Q4_0/Q8_0 on the int8 form: per block an exact integer dot, then
// acc = fma(float(dot), d_w * d_x, acc), blocks in order, as the integer kernels do.
void int8_product_scalar(const InterleavedMatrix& il, const AmxActivations& x, float* y, size_t ldy, uint64_t r0,
                         uint64_t r1) {
  std::vector<uint8_t> block(2 + il.quant_bytes());
  const bool q8 = il.type() == DType::Q8_0;
  for (uint64_t r = r0; r < r1; ++r) {
    for (size_t t = 0; t < x.n(); ++t) {
      float acc = 0.0f;
      for (uint64_t b = 0; b < il.blocks_per_row(); ++b) {
        il.original_block(r, b, block.data());
        uint16_t h;
        std::memcpy(&h, block.data(), 2);
        int32_t dot = 0;
        for (size_t k = 0; k < 32; ++k) {
          const int code = q8 ? static_cast<int8_t>(block[2 + k]) : ((k < 16 ? block[2 + k] : block[2 + k - 16] >> 4) & 15) - 8;
          dot += code * x.int8_code(t, b * 32 + k);
        }
        acc = std::fma(static_cast<float>(dot), fp16_to_fp32(h) * x.int8_scale(t, b), acc);
      }
      y[t * ldy + r] = acc;
    }
  }
}

// Q4_1/Q5_1 rows in place on the int8 form: per block the exact dot of the unsigned codes with
// the activation codes, then acc = fma(float(dot), d_w * d_x, acc) and acc = fma(m_w, s_x, acc),
// blocks in order, as the tiles do. The codes come straight from the block bytes (fp16 d, fp16
// m, Q5_1's uint32 qh, then 16 nibble bytes: low nibble element j, high nibble j + 16).
void min_blocks_product_scalar(const MatrixView& m, const AmxActivations& x, float* y, size_t ldy, uint64_t r0,
                               uint64_t r1) {
  const bool q5 = m.type == DType::Q5_1;
  const size_t block_bytes = q5 ? 24 : 20, nibbles = q5 ? 8 : 4;
  for (uint64_t r = r0; r < r1; ++r) {
    for (size_t t = 0; t < x.n(); ++t) {
      float acc = 0.0f;
      for (uint64_t b = 0; b < m.cols / 32; ++b) {
        const uint8_t* blk = m.row(r) + b * block_bytes;
        uint16_t d, min;
        std::memcpy(&d, blk, 2);
        std::memcpy(&min, blk + 2, 2);
        const uint32_t qh = q5 ? uint32_t{blk[4]} | uint32_t{blk[5]} << 8 | uint32_t{blk[6]} << 16 |
                                     uint32_t{blk[7]} << 24
                               : 0;
        int32_t dot = 0;
        for (size_t k = 0; k < 32; ++k) {
          const int nibble = k < 16 ? blk[nibbles + k] & 15 : blk[nibbles + k - 16] >> 4;
          const int code = nibble | static_cast<int>((qh >> k) & 1u) << 4;
          dot += code * x.int8_code(t, b * 32 + k);
        }
        acc = std::fma(static_cast<float>(dot), fp16_to_fp32(d) * x.int8_scale(t, b), acc);
        acc = std::fma(fp16_to_fp32(min), x.int8_sum(t, b), acc);
      }
      y[t * ldy + r] = acc;
    }
  }
}

}  // namespace

void matmul_amx_scalar(const AmxWeights& w, const AmxActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (w.interleaved && x.int8()) return int8_product_scalar(*w.interleaved, x, y, ldy, r0, r1);
  if (w.matrix && x.int8()) return min_blocks_product_scalar(*w.matrix, x, y, ldy, r0, r1);
  const uint64_t cols = w.cols();
  std::vector<float> row(cols);
  std::vector<double> hi(cols), lo(cols);
  for (uint64_t r = r0; r < r1; ++r) {
    reference_row(w, r, row.data());
    for (uint64_t c = 0; c < cols; ++c) {
      const Bf16Pair p = split_bf16(row[c]);
      hi[c] = bf16_to_float(p.hi);
      lo[c] = bf16_to_float(p.lo);
    }
    for (size_t t = 0; t < x.n(); ++t) {
      double sum = 0;
      for (uint64_t c = 0; c < cols; ++c) {
        const Bf16Pair v = x.at(t, c);
        sum += hi[c] * (double{bf16_to_float(v.hi)} + bf16_to_float(v.lo)) + lo[c] * bf16_to_float(v.hi);
      }
      y[t * ldy + r] = static_cast<float>(sum);
    }
  }
}

}  // namespace lmforge
