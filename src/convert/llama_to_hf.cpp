#include "convert/llama_to_hf.h"

#include "core/error.h"

namespace lmforge {

ConvertReport write_llama_hf(LlamaModelSource& model, const std::string&, const ConvertOptions&) {
  fail(model.path, "writing a Hugging Face folder from this input: not supported yet");
}

}  // namespace lmforge
