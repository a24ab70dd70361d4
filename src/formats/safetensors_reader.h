// safetensors reader: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then
// the tensor data (offsets in the header are relative to byte 8+N).
//
// Validation follows the reference implementation's rules (header length limits, exact
// entry schema, known dtypes, sizes matching shapes, tensors contiguous from 0 with no gaps or
// overlaps, no trailing bytes) and adds what it leaves out: duplicate keys, control characters
// in names, JSON depth and tensor rank limits.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lmforge {

inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
inline constexpr size_t kSafetensorsMaxRank = 8;

struct SafetensorsLayout {
  uint64_t header_bytes = 0;                    // N
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::vector<TensorInfo> tensors;              // in data order; offset is absolute (8 + N + BEGIN)
};

// Validates a whole safetensors file held in memory; `file` names it in errors.
SafetensorsLayout parse_safetensors_layout(std::span<const uint8_t> file_bytes,
                                           const std::string& file);

// Maps the file and validates it; tensors are zero-copy views into the map.
std::unique_ptr<TensorSource> open_safetensors(const std::string& path);

}  // namespace lmforge
