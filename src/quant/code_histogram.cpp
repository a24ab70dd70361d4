#include "quant/code_histogram.h"

namespace lmforge {

namespace {

// Blocks of 32 with 16 bytes of nibbles at `qs_at` (element j low nibble of byte j, element
// j + 16 the high one) and, for 5-bit types, the fifth bits in a little-endian word at `qh_at`.
void count_32_blocks(const uint8_t* data, uint64_t blocks, size_t block_bytes, size_t qs_at, int qh_at, CodeHistogram& h) {
  for (uint64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = data + b * block_bytes;
    uint32_t qh = 0;
    if (qh_at >= 0)
      for (int i = 0; i < 4; ++i) qh |= uint32_t{blk[qh_at + i]} << (8 * i);
    for (int j = 0; j < 16; ++j) {
      const uint8_t byte = blk[qs_at + j];
      uint32_t lo = byte & 0x0F, hi = byte >> 4;
      if (qh_at >= 0) {  // five bits: bucket by the top four
        lo = (lo | (((qh >> j) & 1u) << 4)) >> 1;
        hi = (hi | (((qh >> (j + 16)) & 1u) << 4)) >> 1;
      }
      ++h[lo];
      ++h[hi];
    }
  }
}

}  // namespace

bool has_code_histogram(DType type) {
  return type == DType::Q4_0 || type == DType::Q4_1 || type == DType::Q4_K || type == DType::Q5_0 || type == DType::Q5_1;
}

std::optional<CodeHistogram> code_histogram(DType type, const uint8_t* data, uint64_t n_elements) {
  CodeHistogram h{};
  switch (type) {
    case DType::Q4_0: count_32_blocks(data, n_elements / 32, 18, 2, -1, h); break;
    case DType::Q4_1: count_32_blocks(data, n_elements / 32, 20, 4, -1, h); break;
    case DType::Q5_0: count_32_blocks(data, n_elements / 32, 22, 6, 2, h); break;
    case DType::Q5_1: count_32_blocks(data, n_elements / 32, 24, 8, 4, h); break;
    case DType::Q4_K:  // f16 d, f16 dmin, 12 bytes of scales, then 128 bytes of nibbles
      for (uint64_t b = 0; b < n_elements / 256; ++b) {
        const uint8_t* qs = data + b * 144 + 16;
        for (int j = 0; j < 128; ++j) {
          ++h[qs[j] & 0x0F];
          ++h[qs[j] >> 4];
        }
      }
      break;
    default: return std::nullopt;
  }
  return h;
}

}  // namespace lmforge
