// libFuzzer harness: arbitrary bytes into the GGUF reader, then every tensor read back.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/gguf/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto g = lmforge::GgufReader::parse({data, size}, "fuzz.gguf", nullptr);
    for (size_t i = 0; i < g->tensors().size(); ++i) {
      auto b = g->read(i);
      volatile uint8_t sink = b.size() ? b.data()[b.size() - 1] : 0;  // touch the last byte
      (void)sink;
    }
    (void)g->metadata();
  } catch (const lmforge::Error&) {
  }
  return 0;
}
