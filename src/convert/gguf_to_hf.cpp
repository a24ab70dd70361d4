#include "convert/gguf_to_hf.h"

#include "convert/llama_source.h"
#include "convert/llama_to_hf.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

ConvertReport convert_gguf_to_hf(const std::string& src, const std::string& dst_dir, const ConvertOptions& opt) {
  // One writer for every whole-model source: the GGUF is opened as a LlamaModelSource (GGUF
  // naming, adjacent-pair Q/K rows) and write_llama_hf does names, row order and tokenizer.
  LlamaModelSource model = open_llama_model_source(src);
  if (model.naming != LlamaNaming::kGguf) fail(src, "not a GGUF file");
  return write_llama_hf(model, dst_dir, opt);
}

}  // namespace lmforge
