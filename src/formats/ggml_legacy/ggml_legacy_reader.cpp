#include "formats/ggml_legacy/ggml_legacy_reader.h"

#include "core/error.h"

namespace lmforge {

// Placeholder until the reader lands.
std::unique_ptr<TensorSource> open_ggml_legacy(const std::string& path) {
  fail(path, "legacy GGML/GGMF/GGJT file (pre-GGUF llama.cpp): not supported yet", 0);
}

LlamaModelSource open_ggml_legacy_llama(const std::string& path) { (void)open_ggml_legacy(path); return {}; }

}  // namespace lmforge
