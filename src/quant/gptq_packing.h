// The bit packing of GPTQ checkpoints (GPTQ-for-LLaMa, AutoGPTQ, GPTQModel, transformers): how
// the integer codes of one quantized linear are stored in int32 tensors, and the "v1" zero-point
// convention. Shared by the GPTQ writer (lmforge gptq) and the GPTQ checkpoint reader.
//
// For a linear with K inputs and N outputs (nn.Linear weight [N, K]):
//   qweight int32 [K * bits / 32, N]   codes packed along K (down the columns of a [K, N] matrix)
//   qzeros  int32 [G, N * bits / 32]   zero points packed along N (along each row)
//   scales  f16   [G, N], g_idx int32 [K]
// Every 32 consecutive codes of a column (qweight) or row (qzeros) form one little-endian bit
// stream of 32 * bits bits, i.e. `bits` words: code j occupies stream bits [j * bits, j * bits +
// bits), the lowest in the least significant bits of the first word. For 2, 4 and 8 bits no code
// crosses a word; for 3 bits codes 10 and 21 straddle words, which is exactly the layout the 3-bit
// checkpoints use (word 0 holds codes 0..9 and the low two bits of code 10, and so on).
//
// v1 zero points ("checkpoint_format": "gptq", the common one) are stored minus one, masked to the
// field: a zero point of 0 is stored as all ones and read back (stored + 1) as 2^bits, which is how
// every v1 kernel reads it. gptq_v2 stores the zero point itself.
#pragma once

#include <cstdint>

namespace lmforge {

// The widths GPTQ checkpoints use.
bool gptq_bits_supported(int bits);

// Words per `count` codes of `bits` bits: count * bits / 32. `count` must be a multiple of 32 /
// gcd(32, bits) (32 for 3 bits, 32 / bits otherwise) for the stream to end on a word; the
// writer and reader check that with gptq_packs_evenly() first.
uint64_t gptq_packed_words(uint64_t count, int bits);
bool gptq_packs_evenly(uint64_t count, int bits);

// qweight: codes[k * n_cols + n] (k < k_rows, each code < 2^bits) -> packed[w * n_cols + n] for
// w < gptq_packed_words(k_rows, bits). And back.
void gptq_pack_columns(const uint8_t* codes, uint64_t k_rows, uint64_t n_cols, int bits, uint32_t* packed);
void gptq_unpack_columns(const uint32_t* packed, uint64_t k_rows, uint64_t n_cols, int bits, uint8_t* codes);

// qzeros: codes[g * n_cols + n] -> packed[g * gptq_packed_words(n_cols, bits) + w]. And back.
void gptq_pack_rows(const uint8_t* codes, uint64_t g_rows, uint64_t n_cols, int bits, uint32_t* packed);
void gptq_unpack_rows(const uint32_t* packed, uint64_t g_rows, uint64_t n_cols, int bits, uint8_t* codes);

// The v1 convention: the field a zero point is stored as, and the zero point a field means.
inline uint8_t gptq_v1_stored_zero(int zero, int bits) {
  return static_cast<uint8_t>((zero - 1) & ((1 << bits) - 1));
}
inline int gptq_v1_zero_from_field(uint8_t field) { return int{field} + 1; }

}  // namespace lmforge
