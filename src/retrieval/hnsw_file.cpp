#include "retrieval/hnsw_file.h"


#include <bit>
#include <cstring>

#include "core/atomic_output.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "retrieval/crc32c.h"
#include "retrieval/side_file.h"

namespace lmforge::retrieval {
namespace {

static_assert(std::endian::native == std::endian::little, "the approximate index file is little-endian");

constexpr char kMagic[8] = {'L', 'M', 'F', 'H', 'N', 'S', 'W', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderChecksumAt = 92;

}  // namespace

std::unique_ptr<ApproximateIndex> open_hnsw_file_if_current(const std::string& path, const HnswStamp& expected) {
  const std::shared_ptr<const MappedFile> map = map_side_file(path, kHnswFileHeaderBytes);
  if (!map) return nullptr;
  const uint8_t* p = map->bytes().data();
  const uint64_t size = map->size();
  if (size < kHnswFileHeaderBytes || std::memcmp(p, kMagic, sizeof kMagic) != 0 ||
      load_field<uint32_t>(p + 8) != kFormatVersion || load_field<uint32_t>(p + kHeaderChecksumAt) != crc32c(p, kHeaderChecksumAt)) {
    return nullptr;
  }
  for (size_t i = 96; i < kHnswFileHeaderBytes; ++i) {
    if (p[i] != 0) return nullptr;
  }
  HnswStamp stamp;
  stamp.vectors.dim = load_field<uint32_t>(p + 12);
  stamp.vectors.element_type = load_field<uint32_t>(p + 16);
  stamp.parameters.m = load_field<uint32_t>(p + 20);
  stamp.parameters.ef_construction = load_field<uint32_t>(p + 24);
  stamp.count = load_field<uint64_t>(p + 32);
  stamp.vectors.generation = load_field<uint64_t>(p + 40);
  stamp.vectors.index_id.assign(reinterpret_cast<const char*>(p + 48), 32);
  if (!(stamp == expected) || load_field<uint32_t>(p + 28) != 0) return nullptr;
  const uint64_t payload_bytes = load_field<uint64_t>(p + 80);
  if (payload_bytes != size - kHnswFileHeaderBytes) return nullptr;
  const std::span<const uint8_t> payload{p + kHnswFileHeaderBytes, static_cast<size_t>(payload_bytes)};
  if (crc32c(payload.data(), payload.size()) != load_field<uint32_t>(p + 88)) return nullptr;
  const HnswShape shape{stamp.count, stamp.vectors.dim, stamp.parameters.m, stamp.parameters.ef_construction};
  // Checks the payload's structure first, then searches it in place (the map stays alive).
  return ApproximateIndex::load(payload, shape, map);
}

void write_hnsw_file(const std::string& path, const HnswStamp& stamp, const ApproximateIndex& index) {
  const HnswShape& shape = index.shape();
  if (stamp.vectors.index_id.size() != 32 || shape.count != stamp.count || shape.dim != stamp.vectors.dim ||
      shape.m != stamp.parameters.m || shape.ef_construction != stamp.parameters.ef_construction) {
    fail(path, "internal: approximate index with a stamp that does not describe it");
  }
  index.write_payload([&](std::span<const uint8_t> payload) {
    uint8_t header[kHnswFileHeaderBytes] = {};
    std::memcpy(header, kMagic, sizeof kMagic);
    store_field<uint32_t>(header + 8, kFormatVersion);
    store_field<uint32_t>(header + 12, stamp.vectors.dim);
    store_field<uint32_t>(header + 16, stamp.vectors.element_type);
    store_field<uint32_t>(header + 20, stamp.parameters.m);
    store_field<uint32_t>(header + 24, stamp.parameters.ef_construction);
    store_field<uint64_t>(header + 32, stamp.count);
    store_field<uint64_t>(header + 40, stamp.vectors.generation);
    std::memcpy(header + 48, stamp.vectors.index_id.data(), 32);
    store_field<uint64_t>(header + 80, payload.size());
    store_field<uint32_t>(header + 88, crc32c(payload.data(), payload.size()));
    store_field<uint32_t>(header + kHeaderChecksumAt, crc32c(header, kHeaderChecksumAt));
    AtomicOutputFile out(path, /*overwrite=*/true);
    out.set_durable(true);
    out.write(header, sizeof header);
    out.write(payload);
    out.commit();
  });
}

}  // namespace lmforge::retrieval
