// The index's vectors kept once more, contiguous, in a flat file beside the database
// (`DB.vectors`), so that exact search reads them at memory speed from a memory map instead of
// one SQLite row at a time. The database stays the source of truth: the file is a cache that
// any process may rebuild from it, written whole into place (core's AtomicOutputFile, synced
// before it is linked), and used only while its header's stamp equals the one the database
// holds now.
//
// The stamp: a random index id chosen when the index is reset (so a file copied from another
// index never matches), a generation counter that every transaction changing the index bumps
// in the same transaction (so a file made before any change is stale), the dimension and the
// element type. Layout, little-endian:
//
//   0   "LMFVECS\0"            magic
//   8   u32 format version (1)
//   12  u32 dim
//   16  u32 element type (0 = f32, 1 = f16)
//   20  u32 reserved (0)
//   24  u64 count
//   32  u64 generation
//   40  char[32] index id (hex)
//   72  zeros up to 128
//   128 count x i64 chunk ids, strictly increasing
//   then, at the next multiple of 64, count x dim elements, row by row
//
// A file whose size, magic, version, ids or stamp do not check out is treated as missing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/mapped_file.h"

namespace lmforge::retrieval {

struct VectorStamp {
  std::string index_id;  // 32 hex characters
  uint64_t generation = 0;
  uint32_t dim = 0;
  uint32_t element_type = 0;  // kVectorElementF32 or kVectorElementF16
  bool operator==(const VectorStamp&) const = default;
};

inline constexpr uint32_t kVectorElementF32 = 0;
inline constexpr uint32_t kVectorElementF16 = 1;
inline size_t vector_element_size(uint32_t element_type) { return element_type == kVectorElementF16 ? 2 : 4; }

// A random index id, 32 hex characters.
std::string new_index_id();

class FlatVectorFile {
 public:
  // The file at `path` when it exists and its header and size check out and its stamp is
  // `expected`; nullptr otherwise (never an error: a bad file is rebuilt, not refused).
  static std::unique_ptr<FlatVectorFile> open_if_current(const std::string& path, const VectorStamp& expected);

  const VectorStamp& stamp() const { return stamp_; }
  size_t count() const { return ids_.size(); }
  std::span<const int64_t> ids() const { return ids_; }
  const void* rows() const { return rows_; }  // count() x dim elements of stamp().element_type

 private:
  std::shared_ptr<const MappedFile> map_;
  VectorStamp stamp_;
  std::span<const int64_t> ids_;
  const void* rows_ = nullptr;
};

// Writes the file whole (ids strictly increasing, rows: ids.size() x dim elements of the stamp's
// type) and links it into place over any old one.
void write_flat_vector_file(const std::string& path, const VectorStamp& stamp, std::span<const int64_t> ids,
                            std::span<const uint8_t> rows);

}  // namespace lmforge::retrieval
