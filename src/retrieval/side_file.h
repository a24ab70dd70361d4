// The files kept beside an index database (DB.vectors, DB.hnsw) are caches of what the
// database holds: each is opened only to be checked, and any doubt means "rebuild it", never
// an error. These are the pieces both readers share: mapping a candidate file, and reading or
// writing the little-endian fields of their headers at any alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "core/mapped_file.h"

namespace lmforge::retrieval {

// The file at `path` mapped read-only when it is a regular file of at least `min_bytes`;
// nullptr when it is missing, not a regular file, shorter, or cannot be mapped.
std::shared_ptr<const MappedFile> map_side_file(const std::string& path, size_t min_bytes);

template <class T>
T load_field(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
void store_field(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace lmforge::retrieval
