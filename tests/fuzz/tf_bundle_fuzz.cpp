// libFuzzer harness for the TensorFlow protobuf messages lmforge reads: BundleHeaderProto and
// BundleEntryProto (checkpoint index values), and whole `.pb` files (GraphDef, SavedModel,
// ONNX TensorProto), whose constants are also read out. Only lmforge::Error may escape.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>

#include "core/error.h"
#include "formats/tf_checkpoint/protobuf_pb.h"
#include "formats/tf_checkpoint/tensor_bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    lmforge::tf::parse_bundle_header(bytes, "fuzz", 0);
  } catch (const lmforge::Error&) {
  }
  try {
    lmforge::tf::parse_bundle_entry(bytes, "fuzz", 0);
  } catch (const lmforge::Error&) {
  }
  try {
    if (lmforge::tf::classify_protobuf(bytes) != lmforge::tf::PbKind::kNone) {
      auto src = lmforge::tf::parse_protobuf_pb(bytes, "fuzz", nullptr);
      for (size_t i = 0; i < src->tensors().size(); ++i) {
        try {
          src->read(i);
        } catch (const lmforge::Error&) {
        }
      }
      src->metadata();
    }
  } catch (const lmforge::Error&) {
  }
  return 0;
}
