#include "formats/onnx/onnx_reader.h"

#include "core/error.h"

namespace lmforge {

bool sniff_onnx(const std::string&) { return false; }

std::unique_ptr<TensorSource> open_onnx(const std::string& path) { fail(path, "ONNX: not supported yet", 0); }

LlamaModelSource open_onnx_llama(const std::string& path) { fail(path, "ONNX: not supported yet", 0); }

}  // namespace lmforge
