// IEEE binary16 and bfloat16 conversions, bit-exact with ggml's reference conversions:
// f32 -> f16 rounds to nearest even, overflows to infinity and keeps NaN quiet; f32 -> bf16
// rounds to nearest even and turns NaN into a quiet NaN. Widening is exact.
#pragma once

#include <bit>
#include <cstdint>

namespace lmforge {

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3FFu) << 13;
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + (127 - 15)) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;  // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to infinity (or is inf)
  if (abs >= 0x38800000u) {  // normal f16 range (>= 2^-14)
    uint32_t mant = abs & 0x7FFFFFu;
    uint32_t exp = (abs >> 23) - 127 + 15;
    uint32_t h = exp << 10 | mant >> 13;
    const uint32_t rest = mant & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into exponent: fine
    return static_cast<uint16_t>(sign | h);
  }
  if (abs < 0x33000000u) return sign;  // below half the smallest subnormal: zero
  // Subnormal result: shift the full significand into place, round to nearest even.
  const uint32_t e = abs >> 23;
  const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
  // value = mant * 2^(e-150) and the f16 subnormal unit is 2^-24, so h = mant >> (126 - e).
  const uint32_t shift = 126 - e;
  uint32_t h = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

// fp16_to_fp32 for every bit pattern, computed once: the hot loops of conversions index it
// instead of re-deriving exponents per element.
const float* fp16_to_fp32_table();

inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

inline uint16_t fp32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace lmforge
