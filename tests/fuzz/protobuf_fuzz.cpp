// libFuzzer harness for the protobuf wire walker: parses the input as a SentencePiece model
// and, independently, walks it as a generic message tree (nested length-delimited fields
// are tried as sub-messages, to a fixed depth). Only lmforge::Error may escape the parsers.
#include <cstdint>
#include <span>

#include "core/error.h"
#include "formats/protobuf_wire.h"
#include "formats/sentencepiece_model.h"

namespace {

void walk(lmforge::pb::WireReader r, int depth) {
  lmforge::pb::Field f;
  while (r.next(f)) {
    if (f.type == lmforge::pb::WireType::kLengthDelimited && depth < 8) {
      try {
        walk(r.sub(f, "nested"), depth + 1);
      } catch (const lmforge::Error&) {
        // Not every byte string is a message; keep walking the outer one.
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    lmforge::parse_sentencepiece_model(bytes, "fuzz");
  } catch (const lmforge::Error&) {
  }
  try {
    walk(lmforge::pb::WireReader(bytes, "fuzz"), 0);
  } catch (const lmforge::Error&) {
  }
  return 0;
}
