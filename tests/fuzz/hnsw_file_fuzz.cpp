// libFuzzer harness: arbitrary bytes as an approximate index file (DB.hnsw, retrieval/hnsw_file.h).
// The first byte picks the mode; the rest is the file. The expected stamp is read from the
// file's own header, so the stamp comparison always passes and the fuzzer meets the checks
// behind it. Mode bit 0 set: the harness writes correct CRC-32Cs into the header before opening,
// as someone crafting a file would, so that the graph's structure check (hnsw_layout.h) and
// hnswlib's loader are what the bytes meet; without it, the checksums are the barrier. Whatever
// opens is searched once. Opening may only return a graph or nothing: a crash, an ASan report
// or an exception is a failure.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "retrieval/crc32c.h"
#include "retrieval/hnsw_file.h"

namespace {

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lmforge::retrieval;
  if (size < 1) return 0;
  const bool fix_checksums = (data[0] & 1) != 0;
  std::vector<uint8_t> file(data + 1, data + size);
  HnswStamp expected;
  expected.vectors.index_id = std::string(32, '0');
  if (file.size() >= kHnswFileHeaderBytes) {
    uint8_t* p = file.data();
    if (fix_checksums) {
      const uint32_t payload_crc = crc32c(p + kHnswFileHeaderBytes, file.size() - kHnswFileHeaderBytes);
      std::memcpy(p + 88, &payload_crc, 4);
      const uint32_t header_crc = crc32c(p, 92);
      std::memcpy(p + 92, &header_crc, 4);
    }
    expected.vectors.dim = load<uint32_t>(p + 12);
    expected.vectors.element_type = load<uint32_t>(p + 16);
    expected.parameters.m = load<uint32_t>(p + 20);
    expected.parameters.ef_construction = load<uint32_t>(p + 24);
    expected.count = load<uint64_t>(p + 32);
    expected.vectors.generation = load<uint64_t>(p + 40);
    expected.vectors.index_id.assign(reinterpret_cast<const char*>(p + 48), 32);
  }
  static const std::string path = "/tmp/lmforge-hnsw-fuzz-" + std::to_string(::getpid()) + ".hnsw";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (!file.empty()) std::fwrite(file.data(), 1, file.size(), f);
    std::fclose(f);
  } else {
    return 0;
  }
  const auto index = open_hnsw_file_if_current(path, expected);
  if (index) {
    std::vector<float> query(index->shape().dim, 0.0f);
    query[0] = 1.0f;
    (void)index->search(query, 5, 16);
  }
  return 0;
}
