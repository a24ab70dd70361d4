// libFuzzer harness: arbitrary bytes into the importance-matrix reader (GGUF layout by its magic,
// else the legacy .dat), then every entry's column weights derived as quantize --imatrix does.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/imatrix/imatrix_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto m = lmforge::parse_imatrix({data, size}, "fuzz.imatrix", nullptr);
    for (const auto& entry : m.entries) {
      const auto w = lmforge::imatrix_column_weights(entry.second, m.legacy);
      volatile float sink = w.empty() ? 0.0f : w.back();
      (void)sink;
    }
  } catch (const lmforge::Error&) {
  }
  return 0;
}
