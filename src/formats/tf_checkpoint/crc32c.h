// CRC-32C (Castagnoli) and the "masked" form LevelDB and TensorFlow store.
//
// A CRC stored next to the data it covers is masked (rotated and offset) so that computing
// the CRC of a string that itself contains CRCs stays well distributed.
#pragma once

#include <cstdint>
#include <span>

namespace lmforge::tf {

// Continues a CRC-32C over `bytes`; start with crc = 0.
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> bytes);
inline uint32_t crc32c(std::span<const uint8_t> bytes) { return crc32c_extend(0, bytes); }

inline constexpr uint32_t kCrcMaskDelta = 0xA282EAD8u;
inline uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kCrcMaskDelta; }
inline uint32_t crc32c_unmask(uint32_t masked) {
  const uint32_t rot = masked - kCrcMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace lmforge::tf
