// A llama GGUF as a LlamaModelSource (GGUF naming, adjacent-pair Q/K rows): config from the
// `llama.*` keys, the `tokenizer.*` keys kept as they are.
#pragma once

#include <string>

#include "convert/llama_source.h"

namespace lmforge {

LlamaModelSource llama_source_from_gguf(const std::string& path);

}  // namespace lmforge
