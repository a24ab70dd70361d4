// libFuzzer harness for the ONNX protobuf walker: sniffs and parses the input as a ModelProto
// (graphs, nodes, attributes, subgraphs, initializers, external_data entries) and decodes
// every inline tensor's values. External files are not opened (no I/O from fuzz input).
// Only lmforge::Error may escape.
#include <cstdint>
#include <span>

#include "core/error.h"
#include "formats/onnx/onnx_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  (void)lmforge::onnx::looks_like_onnx_model(bytes);
  try {
    const auto model = lmforge::onnx::parse_onnx_model(bytes, "fuzz");
    for (const auto& t : model.tensors) {
      if (t.field == lmforge::onnx::ValueField::kExternal) continue;
      try {
        const auto b = lmforge::onnx::inline_tensor_bytes(t, "fuzz", nullptr);
        if (b.size() != t.nbytes) __builtin_trap();  // the parser's size check must hold
      } catch (const lmforge::Error&) {
      }
    }
  } catch (const lmforge::Error&) {
  }
  return 0;
}
