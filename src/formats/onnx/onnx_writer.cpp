#include "formats/onnx/onnx_writer.h"

#include "core/error.h"

namespace lmforge {

ConvertReport convert_to_onnx(const std::string&, const std::string& dst, const ConvertOptions&) {
  throw UsageError("writing ONNX (" + dst + ") is not supported yet");
}

}  // namespace lmforge
