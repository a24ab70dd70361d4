#include "convert/sources/gguf_llama_source.h"

#include <filesystem>

#include "arch/llama/llama_config_gguf.h"
#include "convert/gguf_vocab.h"
#include "core/error.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

LlamaModelSource llama_source_from_gguf(const std::string& path) {
  auto g = GgufReader::open(path);
  LlamaModelSource m;
  m.path = path;
  m.description = g->format_description();
  m.config = llama_config_from_gguf(*g, path);
  m.naming = LlamaNaming::kGguf;
  const GgufValue* name = g->find_kv("general.name");
  m.name = name && name->type == GgufType::STRING ? name->s : std::filesystem::path(path).stem().string();
  for (const auto& kv : g->kvs())
    if (kv.key.rfind("tokenizer.", 0) == 0) m.tokenizer_kvs.push_back(kv);
  if (g->find_kv("tokenizer.ggml.model")) {
    try {
      m.spm = hf_tokenizer_from_gguf(*g).model;
    } catch (const Error&) {
      // Not a SentencePiece vocabulary: GGUF output keeps the keys; HF output will say so.
    }
  }
  m.weights = std::move(g);
  return m;
}

}  // namespace lmforge
