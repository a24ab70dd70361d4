// libFuzzer harness for the SSTable reader behind TensorFlow checkpoint .index files: the
// input is read as a whole table (footer, block handles, CRCs, snappy, restart arrays), as a
// single block's contents, and as a snappy stream; every pair of a table that parses is then
// fed to the bundle header/entry parsers. Only lmforge::Error may escape.
#include <cstdint>
#include <span>

#include "core/error.h"
#include "formats/tf_checkpoint/snappy_decompress.h"
#include "formats/tf_checkpoint/sstable_reader.h"
#include "formats/tf_checkpoint/tensor_bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    for (const auto& e : lmforge::tf::read_sstable(bytes, "fuzz")) {
      const std::span<const uint8_t> v(reinterpret_cast<const uint8_t*>(e.value.data()), e.value.size());
      try {
        if (e.key.empty()) lmforge::tf::parse_bundle_header(v, "fuzz", e.value_offset);
        else lmforge::tf::parse_bundle_entry(v, "fuzz", e.value_offset);
      } catch (const lmforge::Error&) {
      }
    }
  } catch (const lmforge::Error&) {
  }
  try {
    lmforge::tf::parse_block(bytes, "fuzz", 0);
  } catch (const lmforge::Error&) {
  }
  try {
    lmforge::tf::snappy_decompress(bytes, 1 << 20, "fuzz", 0);
  } catch (const lmforge::Error&) {
  }
  return 0;
}
