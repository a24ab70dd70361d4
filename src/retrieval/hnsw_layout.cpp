#include "retrieval/hnsw_layout.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace lmforge::retrieval {
namespace {

static_assert(std::endian::native == std::endian::little, "hnswlib's file is read as little-endian");

// Bounds hnswlib never reaches (levels are drawn as -ln(U) / ln(M): level 40 at M = 2 has
// probability 2^-40) but which keep every product below 2^63.
constexpr int kMaxLevel = 64;
constexpr uint32_t kMaxM = 4096;
constexpr uint32_t kMaxDim = 65536;

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t links_level0_bytes(const HnswShape& s) { return uint64_t{2} * s.m * 4 + 4; }
uint64_t links_upper_bytes(const HnswShape& s) { return uint64_t{s.m} * 4 + 4; }
uint64_t record_bytes(const HnswShape& s) { return links_level0_bytes(s) + uint64_t{s.dim} * 4 + 8; }

// A link list: a u32 whose low 16 bits count the links (the rest zero: no "deleted" mark, which
// our graphs never set), then `capacity` slots. Every slot must name an element, the unused
// ones too: hnswlib's search prefetches the record of the slot after the last link, and its
// inserts leave the ids of pruned links behind (so zero is not required, only range).
const char* check_links(const uint8_t* list, uint64_t capacity, uint64_t count) {
  const uint32_t head = load<uint32_t>(list);
  if ((head >> 16) != 0) return "a link list with a deleted mark or stray bits";
  if (head > capacity) return "a link list longer than its capacity";
  for (uint64_t i = 0; i < capacity; ++i) {
    if (load<uint32_t>(list + 4 + 4 * i) >= count) return "a link to an element that does not exist";
  }
  return nullptr;
}

}  // namespace

uint64_t hnsw_level0_bytes(const HnswShape& shape) { return shape.count * record_bytes(shape); }

std::string check_hnsw_payload(std::span<const uint8_t> payload, const HnswShape& s) {
  if (s.m < 2 || s.m > kMaxM || s.dim == 0 || s.dim > kMaxDim) return "unsupported graph parameters";
  const uint8_t* p = payload.data();
  const uint64_t size = payload.size();
  if (size < kHnswPayloadHeaderBytes) return "shorter than hnswlib's header";
  const uint64_t record = record_bytes(s);
  if (s.count > (size - kHnswPayloadHeaderBytes) / record) return "too short for its element count";
  if (s.count > std::numeric_limits<uint32_t>::max() - 1) return "more elements than hnswlib's 32-bit ids name";
  const uint64_t expected_u64[6] = {0, s.count, s.count, record, links_level0_bytes(s) + uint64_t{s.dim} * 4,
                                    links_level0_bytes(s)};
  for (int i = 0; i < 6; ++i) {
    if (load<uint64_t>(p + 8 * i) != expected_u64[i]) return "header sizes differ from the graph's shape";
  }
  const int32_t max_level = load<int32_t>(p + 48);
  const uint32_t entry = load<uint32_t>(p + 52);
  if (load<uint64_t>(p + 56) != s.m || load<uint64_t>(p + 64) != uint64_t{2} * s.m || load<uint64_t>(p + 72) != s.m) {
    return "header M differs from the graph's shape";
  }
  const double mult = load<double>(p + 80);
  if (!std::isfinite(mult) || mult <= 0) return "header level multiplier is not a positive number";
  if (load<uint64_t>(p + 88) != s.ef_construction) return "header ef_construction differs";
  if (s.count == 0) {
    return size == kHnswPayloadHeaderBytes ? "" : "an empty graph with trailing bytes";
  }
  if (max_level < 0 || max_level > kMaxLevel || entry >= s.count) return "entry point or top level out of range";

  // Level 0 records: links in range (vectors and labels are plain data).
  const uint8_t* level0 = p + kHnswPayloadHeaderBytes;
  for (uint64_t i = 0; i < s.count; ++i) {
    if (const char* why = check_links(level0 + i * record, uint64_t{2} * s.m, s.count)) return why;
  }
  // The upper levels: first their sizes, so that every element's level is known before the
  // links that point at it are checked.
  const uint64_t per_level = links_upper_bytes(s);
  std::vector<uint8_t> levels(s.count);
  std::vector<uint64_t> offsets(s.count);
  uint64_t at = kHnswPayloadHeaderBytes + hnsw_level0_bytes(s);
  for (uint64_t i = 0; i < s.count; ++i) {
    if (size - at < 4) return "truncated in the upper levels";
    const uint32_t bytes = load<uint32_t>(p + at);
    at += 4;
    if (bytes % per_level != 0) return "an upper-level block that is not whole lists";
    const uint64_t level = bytes / per_level;
    if (level > static_cast<uint64_t>(max_level)) return "an element above the top level";
    if (bytes > size - at) return "truncated in the upper levels";
    levels[i] = static_cast<uint8_t>(level);
    offsets[i] = at;
    at += bytes;
  }
  if (at != size) return "trailing bytes after the graph";
  if (levels[entry] != max_level) return "the entry point is not on the top level";
  for (uint64_t i = 0; i < s.count; ++i) {
    for (uint64_t level = 1; level <= levels[i]; ++level) {
      const uint8_t* list = p + offsets[i] + (level - 1) * per_level;
      if (const char* why = check_links(list, s.m, s.count)) return why;
      const uint32_t n = load<uint32_t>(list);
      for (uint32_t j = 0; j < n; ++j) {
        if (levels[load<uint32_t>(list + 4 + 4 * uint64_t{j})] < level) return "a link to an element below its level";
      }
    }
  }
  return "";
}

}  // namespace lmforge::retrieval
