#include "formats/onnx/onnx_reader.h"

#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/onnx/onnx_proto.h"
#include "formats/onnx/onnx_source.h"

namespace lmforge {

bool sniff_onnx(const std::string& path) {
  try {
    auto f = MappedFile::open(path);
    // Protobuf has no magic: a SentencePiece model (field 1 = pieces, a message), a GraphDef
    // (field 1 = node) or a TensorProto (field 2 = data_type varint) fails the field/wire-type
    // check; only files with an ir_version and a graph message pass.
    return onnx::looks_like_onnx_model(f->bytes());
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<TensorSource> open_onnx(const std::string& path) { return OnnxSource::open(path); }

std::optional<std::string> onnx_folder_model(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  for (const char* name : {"model.onnx", "decoder_model_merged.onnx", "decoder_model.onnx"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::is_regular_file(p, ec) && sniff_onnx(p.string())) return p.string();
  }
  return std::nullopt;
}

}  // namespace lmforge
