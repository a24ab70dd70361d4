// CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41, reflected), the checksum that
// guards the approximate index file (hnsw_file.h) before any of its bytes reach hnswlib. A
// SHA-256 of a gigabyte-sized graph would cost seconds per `ask`; CRC-32C detects every burst
// error up to 32 bits and any other corruption with probability 1 - 2^-32, and x86's SSE4.2
// `crc32` instruction computes it at about memory speed. `crc32c_scalar` is its twin (a
// byte-at-a-time table), which the tests compare against and which runs where SSE4.2 is absent.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge::retrieval {

// The CRC-32C of `n` bytes, continuing from `crc` (0 to start; pass the previous result to
// continue over a second buffer).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
uint32_t crc32c_scalar(const void* data, size_t n, uint32_t crc = 0);

}  // namespace lmforge::retrieval
