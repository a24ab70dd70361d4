// SHA-256's compression over 64-byte blocks: the portable rounds and the SHA-NI form.
#include "core/sha256_blocks.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define LMFORGE_SHA_X86 1
#endif

namespace lmforge {
namespace {

alignas(16) constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

}  // namespace

void sha256_blocks_portable(uint32_t state[8], const uint8_t* blocks, size_t n) {
  for (size_t blk = 0; blk < n; ++blk) {
    const uint8_t* block = blocks + 64 * blk;
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{block[4 * i]} << 24) | (uint32_t{block[4 * i + 1]} << 16) |
             (uint32_t{block[4 * i + 2]} << 8) | uint32_t{block[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                          kRoundConstants[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

#ifdef LMFORGE_SHA_X86

// CPUID directly: leaf 7 EBX bit 29 is SHA, leaf 1 ECX bit 19 SSE4.1 (Clang's
// __builtin_cpu_supports does not know "sha").
bool sha256_has_shani() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19))) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & (1u << 29)) != 0;
  }();
  return has;
}

// The SHA extensions keep the state as two registers, (a, b, e, f) and (c, d, g, h), and run two
// rounds per sha256rnds2 from four message-plus-constant words; sha256msg1/msg2 extend the
// message schedule four words at a time (W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]).
__attribute__((target("sha,sse4.1,ssse3"))) void sha256_blocks_shani(uint32_t state[8], const uint8_t* blocks,
                                                                      size_t n) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  dcba = _mm_shuffle_epi32(dcba, 0xB1);                // c d a b
  hgfe = _mm_shuffle_epi32(hgfe, 0x1B);                // e f g h
  __m128i abef = _mm_alignr_epi8(dcba, hgfe, 8);       // a b e f
  __m128i cdgh = _mm_blend_epi16(hgfe, dcba, 0xF0);    // c d g h
  for (size_t blk = 0; blk < n; ++blk) {
    const auto* p = reinterpret_cast<const __m128i*>(blocks + 64 * blk);
    const __m128i abef0 = abef, cdgh0 = cdgh;
    __m128i m[4];
    for (int i = 0; i < 4; ++i) m[i] = _mm_shuffle_epi8(_mm_loadu_si128(p + i), byte_swap);
    for (int g = 0; g < 16; ++g) {  // four rounds per group
      __m128i& w = m[g & 3];
      if (g >= 4) {  // words 4g..4g+3 from the four groups before them
        const __m128i w7 = _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4);
        w = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w, m[(g + 1) & 3]), w7), m[(g + 3) & 3]);
      }
      __m128i wk = _mm_add_epi32(w, _mm_load_si128(reinterpret_cast<const __m128i*>(kRoundConstants + 4 * g)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      wk = _mm_shuffle_epi32(wk, 0x0E);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
    }
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);
  }
  dcba = _mm_shuffle_epi32(abef, 0x1B);                // f e b a
  hgfe = _mm_shuffle_epi32(cdgh, 0xB1);                // d c h g
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(dcba, hgfe, 0xF0));      // d c b a
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(hgfe, dcba, 8));     // h g f e
}

#else

bool sha256_has_shani() { return false; }
void sha256_blocks_shani(uint32_t state[8], const uint8_t* blocks, size_t n) { sha256_blocks_portable(state, blocks, n); }

#endif

void sha256_blocks(uint32_t state[8], const uint8_t* blocks, size_t n) {
  if (sha256_has_shani()) {
    sha256_blocks_shani(state, blocks, n);
  } else {
    sha256_blocks_portable(state, blocks, n);
  }
}

}  // namespace lmforge
