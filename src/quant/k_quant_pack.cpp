#include "quant/k_quant_pack.h"

#include <cstddef>
#include <cstring>

namespace lmforge {

namespace {
// Per 128 elements: byte l holds elements l, l + 32, l + 64, l + 96 in bits 0-1 .. 6-7.
void pack_two_bit(const uint8_t* L, uint8_t* qs) {
  for (size_t h = 0; h < 256; h += 128, qs += 32)
    for (size_t l = 0; l < 32; ++l)
      qs[l] = static_cast<uint8_t>((L[h + l] & 3) | (L[h + l + 32] & 3) << 2 | (L[h + l + 64] & 3) << 4 |
                                   (L[h + l + 96] & 3) << 6);
}
}  // namespace

void pack_q2_k_quants(const uint8_t* L, uint8_t* block) { pack_two_bit(L, block + 16); }

void pack_q3_k_quants(const uint8_t* L, uint8_t* block) {
  // The third bit of element j goes to hmask byte j % 32, bit j / 32; the low two to qs.
  // Branch-free, byte by byte (a branch per element cost as much as the scale search).
  uint8_t* hmask = block;
  for (size_t l = 0; l < 32; ++l) {
    unsigned bits = 0;
    for (size_t k = 0; k < 8; ++k) bits |= static_cast<unsigned>(L[32 * k + l] > 3) << k;
    hmask[l] = static_cast<uint8_t>(bits);
  }
  pack_two_bit(L, block + 32);
}

void pack_q4_k_quants(const uint8_t* L, uint8_t* block) {
  // Per 64 elements: byte l holds element l (low nibble) and l + 32 (high nibble).
  uint8_t* q = block + 16;
  for (size_t h = 0; h < 256; h += 64, q += 32)
    for (size_t l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[h + l] | L[h + l + 32] << 4);
}

void pack_q5_k_quants(const uint8_t* L, uint8_t* block) {
  // Per 64 elements (pair p = 0..3): qs byte l holds the low nibbles of elements l and l + 32,
  // their fifth bits are bits 2p and 2p + 1 of qh byte l.
  uint8_t* qh = block + 16;
  uint8_t* ql = block + 48;
  std::memset(qh, 0, 32);
  unsigned shift = 0;
  for (size_t h = 0; h < 256; h += 64, ql += 32, shift += 2) {
    for (size_t l = 0; l < 32; ++l) {
      const unsigned l1 = L[h + l], l2 = L[h + l + 32];
      qh[l] = static_cast<uint8_t>(qh[l] | (l1 >> 4) << shift | (l2 >> 4) << (shift + 1));
      ql[l] = static_cast<uint8_t>((l1 & 0xF) | (l2 & 0xF) << 4);
    }
  }
}

void pack_q6_k_quants(const uint8_t* L, uint8_t* block) {
  // Per 128 elements: ql byte l holds elements l (low) and l + 64 (high), byte l + 32 holds
  // l + 32 and l + 96; qh byte l holds the top two bits of l, l + 32, l + 64, l + 96.
  uint8_t* ql = block;
  uint8_t* qh = block + 128;
  for (size_t h = 0; h < 256; h += 128, ql += 64, qh += 32) {
    for (size_t l = 0; l < 32; ++l) {
      const unsigned q1 = L[h + l], q2 = L[h + l + 32], q3 = L[h + l + 64], q4 = L[h + l + 96];
      ql[l] = static_cast<uint8_t>((q1 & 0xF) | (q3 & 0xF) << 4);
      ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | (q4 & 0xF) << 4);
      qh[l] = static_cast<uint8_t>((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
    }
  }
}

}  // namespace lmforge
