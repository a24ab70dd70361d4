// SHA-256 (FIPS 180-4) of bytes, for content hashes: the index's documents are skipped on a
// second run when their hash is unchanged, and an embedding model's fingerprint names its file
// by hash. Streaming, so a large file is hashed without being held in memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lmforge {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();

 private:
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lower-case hex of the SHA-256 of `s` (64 characters).
std::string sha256_hex(std::string_view s);
std::string to_hex(const std::array<uint8_t, 32>& digest);

}  // namespace lmforge
