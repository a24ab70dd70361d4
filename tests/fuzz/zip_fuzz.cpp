// libFuzzer harness: the zip central-directory reader must accept or refuse any input with an
// lmforge::Error, and every entry it accepts must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "formats/zip/zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto z = lmforge::ZipArchive::parse({data, size}, "fuzz.zip");
    for (const auto& e : z.entries()) {
      if (z.find(e.name) != &e) std::abort();
      if (e.method != 0) continue;
      auto bytes = z.data(e);
      if (bytes.data() < data || bytes.data() + bytes.size() > data + size) std::abort();
      (void)z.crc_matches(e);
    }
  } catch (const lmforge::Error&) {
  }
  return 0;
}
