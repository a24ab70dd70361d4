// The bytes hnswlib (0.6, Debian libhnswlib-dev) writes with HierarchicalNSW::saveIndex, checked
// in full before its loader sees them. hnswlib's loader trusts its input: it allocates with the
// sizes the file gives and its search follows the stored neighbour ids without bounds checks, so
// a garbled or hostile graph would make it allocate without limit or read out of bounds. The
// file's checksum (hnsw_file.h) catches corruption; this check makes even a self-consistent
// foreign graph safe: every size must be the one our parameters imply, every neighbour id must
// name an element, and every element reached on level L must have a list on level L.
//
// Layout (native little-endian, as saveIndex writes the members):
//
//   u64 offsetLevel0 (0)          u64 max_elements (= count)    u64 cur_element_count (= count)
//   u64 size_data_per_element     u64 label_offset              u64 offsetData
//   i32 maxlevel                  u32 enterpoint_node           u64 maxM (= M)
//   u64 maxM0 (= 2M)              u64 M                         f64 mult
//   u64 ef_construction
//   count x level-0 records of size_data_per_element bytes:
//       u32 link count (low 16 bits; byte 2 is the "deleted" mark), maxM0 x u32 links,
//       dim x f32 vector, u64 label
//   count x (u32 bytes, then that many bytes: level x (u32 link count, maxM x u32 links))
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace lmforge::retrieval {

struct HnswShape {
  uint64_t count = 0;
  uint32_t dim = 0;
  uint32_t m = 0;                // hnswlib's M: links per element above level 0 (2M on level 0)
  uint32_t ef_construction = 0;
};

inline constexpr size_t kHnswPayloadHeaderBytes = 96;

// The bytes of the level-0 records of a graph of this shape (after the header).
uint64_t hnsw_level0_bytes(const HnswShape& shape);

// Empty when `payload` is a graph of `shape` that hnswlib's loader and search can use safely;
// otherwise why not (one line, for tests and notes).
std::string check_hnsw_payload(std::span<const uint8_t> payload, const HnswShape& shape);

}  // namespace lmforge::retrieval
