// The `tokenizer.ggml.*` keys every vocabulary kind reads the same way from a GGUF file: the
// special token ids (bos, eos, eot, padding...) and the boolean flags (add_bos_token...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lmforge {

class GgufReader;

// The id under tokenizer.ggml.KEY, or -1 when the key is absent. Throws lmforge::Error naming
// `file` when it is not an id below n_vocab.
int32_t gguf_token_id_key(const GgufReader& gguf, const char* key, size_t n_vocab, const std::string& file);

// The boolean under tokenizer.ggml.KEY, or `fallback` when absent. Throws when not a boolean.
bool gguf_token_flag_key(const GgufReader& gguf, const char* key, bool fallback, const std::string& file);

}  // namespace lmforge
