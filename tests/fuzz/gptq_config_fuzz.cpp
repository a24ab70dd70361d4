// libFuzzer harness: arbitrary bytes as a GPTQ settings file (quantize_config.json, or the
// quantization_config of a config.json): the strict JSON parser, then the GPTQ settings reader
// with its synonyms and range checks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "formats/gptq_config.h"
#include "formats/json_strict.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto j = lmforge::parse_json_strict({reinterpret_cast<const char*>(data), size}, "quantize_config.json", 0);
    const auto c = lmforge::gptq_config_from_json(j, "quantize_config.json");
    volatile int sink = c.bits;
    (void)sink;
  } catch (const lmforge::Error&) {
  }
  return 0;
}
