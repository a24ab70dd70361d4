// A small bounded decoder for raw Snappy blocks (no framing), the compression LevelDB-style
// tables may apply to each block (block type 1).
//
// The declared output length is checked against a cap before anything is allocated, every
// copy's offset must point inside the output written so far, and the output must come out
// exactly as long as declared.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lmforge::tf {

// Decodes `in`; `base` is its absolute offset in `file` (for error messages). Fails if the
// declared uncompressed length exceeds `max_output`.
std::vector<uint8_t> snappy_decompress(std::span<const uint8_t> in, uint64_t max_output, const std::string& file,
                                       uint64_t base);

}  // namespace lmforge::tf
