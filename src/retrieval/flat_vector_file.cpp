#include "retrieval/flat_vector_file.h"

#include <sys/mman.h>

#include <bit>
#include <cstring>
#include <random>

#include "core/atomic_output.h"
#include "core/error.h"
#include "retrieval/side_file.h"

namespace lmforge::retrieval {
namespace {

static_assert(std::endian::native == std::endian::little, "the flat vector file is little-endian");

constexpr char kMagic[8] = {'L', 'M', 'F', 'V', 'E', 'C', 'S', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 128;
constexpr size_t kRowAlignment = 64;

size_t rows_offset(uint64_t count) {
  const uint64_t end_of_ids = kHeaderBytes + count * sizeof(int64_t);
  return static_cast<size_t>((end_of_ids + kRowAlignment - 1) / kRowAlignment * kRowAlignment);
}

}  // namespace

std::string new_index_id() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 8; ++i) {
    const uint32_t word = rd();
    for (int b = 0; b < 4; ++b) id.push_back(kHex[(word >> (4 * b)) & 15]);
  }
  return id;
}

std::unique_ptr<FlatVectorFile> FlatVectorFile::open_if_current(const std::string& path, const VectorStamp& expected) {
  const std::shared_ptr<const MappedFile> map = map_side_file(path, kHeaderBytes);
  if (!map) return nullptr;
  const uint8_t* p = map->bytes().data();
  const uint64_t size = map->size();
  if (size < kHeaderBytes || std::memcmp(p, kMagic, sizeof kMagic) != 0 || load_field<uint32_t>(p + 8) != kFormatVersion) {
    return nullptr;
  }
  VectorStamp stamp;
  stamp.dim = load_field<uint32_t>(p + 12);
  stamp.element_type = load_field<uint32_t>(p + 16);
  const uint64_t count = load_field<uint64_t>(p + 24);
  stamp.generation = load_field<uint64_t>(p + 32);
  stamp.index_id.assign(reinterpret_cast<const char*>(p + 40), 32);
  if (!(stamp == expected) || stamp.element_type > kVectorElementF16 || stamp.dim == 0) return nullptr;
  // Sizes from the header are checked against the file's size before anything is read.
  if (count > (size - kHeaderBytes) / sizeof(int64_t)) return nullptr;
  const size_t offset = rows_offset(count);
  const uint64_t row_bytes = uint64_t{stamp.dim} * vector_element_size(stamp.element_type);
  if (offset > size || (count != 0 && row_bytes > (size - offset) / count) || offset + count * row_bytes != size) {
    return nullptr;
  }
  auto file = std::unique_ptr<FlatVectorFile>(new FlatVectorFile());
  file->ids_ = {reinterpret_cast<const int64_t*>(p + kHeaderBytes), static_cast<size_t>(count)};
  for (size_t i = 1; i < file->ids_.size(); ++i) {
    if (file->ids_[i] <= file->ids_[i - 1]) return nullptr;
  }
  file->rows_ = p + offset;
  // Every search reads every row: ask the kernel to read ahead and map the pages in bulk.
  if (count != 0) {
    ::madvise(const_cast<uint8_t*>(p), static_cast<size_t>(size), MADV_WILLNEED);
  }
  file->stamp_ = stamp;
  file->map_ = std::move(map);
  return file;
}

void write_flat_vector_file(const std::string& path, const VectorStamp& stamp, std::span<const int64_t> ids,
                            std::span<const uint8_t> rows) {
  if (stamp.index_id.size() != 32 || rows.size() != ids.size() * size_t{stamp.dim} * vector_element_size(stamp.element_type)) {
    fail(path, "internal: flat vector file with a bad stamp or row count");
  }
  uint8_t header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, sizeof kMagic);
  const uint64_t count = ids.size();
  std::memcpy(header + 8, &kFormatVersion, 4);
  std::memcpy(header + 12, &stamp.dim, 4);
  std::memcpy(header + 16, &stamp.element_type, 4);
  std::memcpy(header + 24, &count, 8);
  std::memcpy(header + 32, &stamp.generation, 8);
  std::memcpy(header + 40, stamp.index_id.data(), 32);
  AtomicOutputFile out(path, /*overwrite=*/true);
  out.set_durable(true);  // fsync before the file is linked into place
  out.write(header, sizeof header);
  out.write(ids.data(), ids.size_bytes());
  out.write_zeros(rows_offset(count) - out.position());
  out.write(rows.data(), rows.size_bytes());
  out.commit();
}

}  // namespace lmforge::retrieval
