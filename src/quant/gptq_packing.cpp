#include "quant/gptq_packing.h"

namespace lmforge {

namespace {

// Reads `bits` bits at stream bit `pos` of a little-endian word stream whose word i is at
// words[i * stride].
uint8_t read_field(const uint32_t* words, uint64_t stride, uint64_t pos, int bits) {
  const uint64_t w = pos / 32, b = pos % 32;
  uint64_t v = words[w * stride] >> b;
  if (b + bits > 32) v |= uint64_t{words[(w + 1) * stride]} << (32 - b);
  return static_cast<uint8_t>(v & ((1u << bits) - 1));
}

// ORs the low `bits` bits of `code` into the stream at bit `pos` (the words start zeroed).
void write_field(uint32_t* words, uint64_t stride, uint64_t pos, int bits, uint8_t code) {
  const uint64_t w = pos / 32, b = pos % 32;
  const uint64_t v = uint64_t{code} & ((1u << bits) - 1);
  words[w * stride] |= static_cast<uint32_t>(v << b);
  if (b + bits > 32) words[(w + 1) * stride] |= static_cast<uint32_t>(v >> (32 - b));
}

}  // namespace

bool gptq_bits_supported(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

uint64_t gptq_packed_words(uint64_t count, int bits) { return count * static_cast<uint64_t>(bits) / 32; }

bool gptq_packs_evenly(uint64_t count, int bits) {
  return gptq_bits_supported(bits) && (count * static_cast<uint64_t>(bits)) % 32 == 0;
}

void gptq_pack_columns(const uint8_t* codes, uint64_t k_rows, uint64_t n_cols, int bits, uint32_t* packed) {
  const uint64_t words = gptq_packed_words(k_rows, bits);
  for (uint64_t i = 0; i < words * n_cols; ++i) packed[i] = 0;
  for (uint64_t k = 0; k < k_rows; ++k)
    for (uint64_t n = 0; n < n_cols; ++n) write_field(packed + n, n_cols, k * bits, bits, codes[k * n_cols + n]);
}

void gptq_unpack_columns(const uint32_t* packed, uint64_t k_rows, uint64_t n_cols, int bits, uint8_t* codes) {
  for (uint64_t k = 0; k < k_rows; ++k)
    for (uint64_t n = 0; n < n_cols; ++n) codes[k * n_cols + n] = read_field(packed + n, n_cols, k * bits, bits);
}

void gptq_pack_rows(const uint8_t* codes, uint64_t g_rows, uint64_t n_cols, int bits, uint32_t* packed) {
  const uint64_t words = gptq_packed_words(n_cols, bits);
  for (uint64_t i = 0; i < g_rows * words; ++i) packed[i] = 0;
  for (uint64_t g = 0; g < g_rows; ++g)
    for (uint64_t n = 0; n < n_cols; ++n) write_field(packed + g * words, 1, n * bits, bits, codes[g * n_cols + n]);
}

void gptq_unpack_rows(const uint32_t* packed, uint64_t g_rows, uint64_t n_cols, int bits, uint8_t* codes) {
  const uint64_t words = gptq_packed_words(n_cols, bits);
  for (uint64_t g = 0; g < g_rows; ++g)
    for (uint64_t n = 0; n < n_cols; ++n) codes[g * n_cols + n] = read_field(packed + g * words, 1, n * bits, bits);
}

}  // namespace lmforge
