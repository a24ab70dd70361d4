// libFuzzer harness: every input must either parse into a layout whose tensors lie inside the
// input, or be refused with lmforge::Error. Anything else (a crash, a sanitizer report, an
// escaped exception of another type) is a bug.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/error.h"
#include "formats/safetensors_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto layout = lmforge::parse_safetensors_layout(std::span<const uint8_t>(data, size), "fuzz");
    for (const auto& t : layout.tensors) {
      if (t.offset > size || t.nbytes > size - t.offset) std::abort();  // validation missed a range
    }
  } catch (const lmforge::Error&) {
  }
  return 0;
}
