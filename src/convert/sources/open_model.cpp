#include "convert/sources/open_model.h"

#include <nlohmann/json.hpp>

#include "convert/sources/hf_llama_source.h"
#include "convert/sources/meta_llama_source.h"
#include "core/error.h"
#include "formats/ggml_legacy/ggml_legacy_reader.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/onnx/onnx_reader.h"
#include "formats/pytorch_reader.h"
#include "formats/safetensors_reader.h"
#include "formats/detect/sniff.h"
#include "formats/tf_checkpoint/tf_checkpoint_reader.h"

namespace lmforge {

namespace {

// A folder seen through its weights, with config.json and tokenizer facts as metadata.
class HfFolderSource : public TensorSource {
 public:
  explicit HfFolderSource(HfModel m) : m_(std::move(m)) {}
  std::string format_description() const override {
    return "Hugging Face model folder (" + m_.weights->format_description() + ")";
  }
  const std::vector<TensorInfo>& tensors() const override { return m_.weights->tensors(); }
  TensorBytes read(size_t i) const override { return m_.weights->read(i); }
  nlohmann::json metadata() const override {
    nlohmann::json j;
    j["config"] = m_.config_json;
    j["files"] = m_.files_used;
    if (m_.tokenizer) {
      j["tokenizer"] = {{"pieces", m_.tokenizer->pieces.size()},
                        {"model_type", m_.tokenizer->model_type == 2 ? "bpe" : m_.tokenizer->model_type == 1 ? "unigram" : "other"},
                        {"byte_fallback", m_.tokenizer->byte_fallback},
                        {"add_dummy_prefix", m_.tokenizer->add_dummy_prefix}};
    }
    if (!m_.tokenizer_config.is_null()) j["tokenizer_config"] = m_.tokenizer_config;
    j["weights"] = m_.weights->metadata();
    return j;
  }
  std::vector<std::string> warnings() const override {
    auto w = m_.warnings;
    for (auto& x : m_.weights->warnings()) w.push_back(x);
    return w;
  }

 private:
  HfModel m_;
};

}  // namespace

std::unique_ptr<TensorSource> open_model(const std::string& path) {
  switch (sniff_format(path)) {
    case FileFormat::kGguf: return GgufReader::open(path);
    case FileFormat::kSafetensors: return open_safetensors(path);
    case FileFormat::kPytorchZip:
    case FileFormat::kPytorchLegacy: return open_pytorch_checkpoint(path);
    case FileFormat::kHfFolder: return std::make_unique<HfFolderSource>(open_llama_hf_folder(path).files);
    case FileFormat::kGgmlLegacy: return open_ggml_legacy(path);
    case FileFormat::kMetaFolder: return std::move(open_meta_llama(path).weights);
    case FileFormat::kOnnx: return open_onnx(path);
    case FileFormat::kOnnxFolder: return open_onnx(*onnx_folder_model(path));
    case FileFormat::kTfCheckpoint: return open_tf_checkpoint(path);
    case FileFormat::kProtobufPb: return open_protobuf_pb(path);
    case FileFormat::kUnknown: break;
  }
  fail(path, "unrecognised file format (not GGUF, GGML, safetensors, PyTorch, ONNX or a TensorFlow checkpoint)", 0);
}

}  // namespace lmforge
