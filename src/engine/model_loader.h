// Opening a model for inference from what a user has: a GGUF file, or any whole-model input
// the converters read (Hugging Face or Meta folder, legacy GGML, ONNX).
//
// Anything but GGUF is converted in memory by write_llama_gguf (keeping the source's type)
// into an anonymous file (O_TMPFILE in $TMPDIR, else memfd_create): it has no name, so nothing
// is left behind however the process ends, and the kernel may page it out like any file. The
// converted bytes are then read exactly like a GGUF file, so both inputs run the same code.
#pragma once

#include <memory>
#include <string>

#include "engine/llama_model.h"
#include "tokenizer/tokenizer.h"

namespace lmforge {

class GgufReader;

struct LoadedModel {
  std::unique_ptr<LlamaModel> model;
  std::shared_ptr<const Tokenizer> tokenizer;  // never null
  // tokenizer.chat_template (copied from tokenizer_config.json for a folder); empty when absent.
  std::string chat_template;
  bool converted = false;  // true when the input was not GGUF (converted in memory)
  std::shared_ptr<const GgufReader> gguf;
};

// Throws lmforge::Error naming the file when it is not a llama model lmforge can run (another
// architecture, a tensor type the kernels cannot read, a missing tensor, ...).
LoadedModel load_model_for_inference(const std::string& path);

}  // namespace lmforge
