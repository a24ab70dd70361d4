#include "tokenizer/gguf_token_keys.h"

#include "core/error.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

int32_t gguf_token_id_key(const GgufReader& gguf, const char* key, size_t n_vocab, const std::string& file) {
  const std::string name = std::string("tokenizer.ggml.") + key;
  const GgufValue* val = gguf.find_kv(name);
  if (!val) return -1;
  const auto id = val->as_uint();
  if (!id || *id >= n_vocab) fail(file, name + " is not a token id of the vocabulary");
  return static_cast<int32_t>(*id);
}

bool gguf_token_flag_key(const GgufReader& gguf, const char* key, bool fallback, const std::string& file) {
  const std::string name = std::string("tokenizer.ggml.") + key;
  const GgufValue* val = gguf.find_kv(name);
  if (!val) return fallback;
  if (val->type != GgufType::BOOL) fail(file, name + " must be a boolean");
  return val->u != 0;
}

}  // namespace lmforge
