#include "convert/sources/open_llama_model_source.h"

#include "convert/sources/ggml_legacy_llama_source.h"
#include "convert/sources/gguf_llama_source.h"
#include "convert/sources/gptq_llama_source.h"
#include "convert/sources/hf_llama_source.h"
#include "convert/sources/meta_llama_source.h"
#include "convert/sources/onnx_llama_source.h"
#include "convert/sources/open_model.h"
#include "core/error.h"
#include "formats/detect/sniff.h"

namespace lmforge {

LlamaModelSource open_llama_model_source(const std::string& path) {
  switch (sniff_format(path)) {
    case FileFormat::kHfFolder: return is_gptq_folder(path) ? llama_source_from_gptq_folder(path) : llama_source_from_hf_folder(path);
    case FileFormat::kMetaFolder: return open_meta_llama(path);
    case FileFormat::kGgmlLegacy: return open_ggml_legacy_llama(path);
    case FileFormat::kOnnx: return open_onnx_llama(path);
    case FileFormat::kOnnxFolder: return open_onnx_llama_folder(path);
    case FileFormat::kGguf: return llama_source_from_gguf(path);
    default: break;
  }
  (void)open_model(path);  // says what is wrong with unreadable input
  fail(path, "not a whole llama model (expected a Hugging Face or Meta folder, a GGUF, legacy GGML or ONNX file)");
}

}  // namespace lmforge
