#include "formats/detect/sniff.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/hf_folder.h"
#include "formats/meta_checkpoint.h"
#include "formats/onnx/onnx_reader.h"
#include "formats/tf_checkpoint/tf_checkpoint_reader.h"

namespace lmforge {

namespace fs = std::filesystem;

namespace {

// The pickled magic number that opens a pre-1.6 torch.save file.
constexpr uint8_t kTorchLegacyMagic[] = {0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46,
                                         0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E};

}  // namespace

std::string_view file_format_name(FileFormat f) {
  switch (f) {
    case FileFormat::kGguf: return "gguf";
    case FileFormat::kSafetensors: return "safetensors";
    case FileFormat::kPytorchZip: return "pytorch-zip";
    case FileFormat::kPytorchLegacy: return "pytorch-legacy";
    case FileFormat::kHfFolder: return "hf-folder";
    case FileFormat::kGgmlLegacy: return "ggml-legacy";
    case FileFormat::kMetaFolder: return "meta-folder";
    case FileFormat::kOnnx: return "onnx";
    case FileFormat::kOnnxFolder: return "onnx-folder";
    case FileFormat::kTfCheckpoint: return "tf-checkpoint";
    case FileFormat::kProtobufPb: return "protobuf";
    case FileFormat::kUnknown: return "unknown";
  }
  return "unknown";
}

FileFormat sniff_format(const std::string& path) {
  std::error_code ec;
  // A TensorFlow checkpoint is usually named by its prefix, which is not itself a file; a
  // SavedModel folder holds one in variables/.
  if (sniff_tf_checkpoint(path)) return FileFormat::kTfCheckpoint;
  if (fs::is_directory(path, ec)) {
    if (is_meta_checkpoint_dir(path)) return FileFormat::kMetaFolder;
    // An optimum export has config.json and tokenizer files like a Hugging Face folder, but
    // its weights are in the ONNX file: safetensors/bin weights, when present, win.
    if (!hf_folder_has_weights(path) && onnx_folder_model(path)) return FileFormat::kOnnxFolder;
    return FileFormat::kHfFolder;
  }
  if (!fs::exists(path, ec)) fail(path, "no such file or directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, "cannot open");
  uint8_t head[16] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  const auto n = static_cast<size_t>(f.gcount());
  if (n >= 4 && std::memcmp(head, "GGUF", 4) == 0) return FileFormat::kGguf;
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return FileFormat::kPytorchZip;
  if (n >= sizeof kTorchLegacyMagic && std::memcmp(head, kTorchLegacyMagic, sizeof kTorchLegacyMagic) == 0)
    return FileFormat::kPytorchLegacy;
  // Legacy llama.cpp magics are little-endian u32s: bytes "lmgg", "fmgg", "tjgg".
  if (n >= 4 && (std::memcmp(head, "lmgg", 4) == 0 || std::memcmp(head, "fmgg", 4) == 0 || std::memcmp(head, "tjgg", 4) == 0))
    return FileFormat::kGgmlLegacy;
  // safetensors: u64 header length, then the JSON object (optionally after whitespace).
  if (n >= 9) {
    uint64_t len;
    std::memcpy(&len, head, 8);
    const auto size = fs::file_size(path, ec);
    size_t k = 8;
    while (k < n && (head[k] == ' ' || head[k] == '\t' || head[k] == '\n' || head[k] == '\r')) ++k;
    if (!ec && len >= 2 && len <= size - 8 && k < n && head[k] == '{') return FileFormat::kSafetensors;
  }
  // Protobuf has no magic number: these look at the message structure.
  if (sniff_onnx(path)) return FileFormat::kOnnx;
  if (sniff_protobuf_pb(path)) return FileFormat::kProtobufPb;
  return FileFormat::kUnknown;
}

}  // namespace lmforge
