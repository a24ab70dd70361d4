// The SentencePiece vocabulary in GGUF's `tokenizer.ggml.*` keys, both ways.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "formats/gguf/gguf_value.h"
#include "formats/sentencepiece_model.h"

namespace lmforge {

struct HfModel;
struct LlamaConfig;
class GgufReader;

// Token list, scores, types and special ids as llama.cpp's converter builds them from
// tokenizer.model, added_tokens.json and tokenizer_config.json; `config` gives the special
// ids config.json declares; end-of-generation ids of its eos list that no key can carry are
// reported in `warnings` when given.
std::vector<GgufKv> gguf_vocab_from_hf(const HfModel& model, const LlamaConfig& config, uint32_t vocab_size,
                                       std::vector<std::string>* warnings = nullptr);

// GGUF tokenizer keys for a SentencePiece model alone (no HF json files): token list,
// scores, types and the model's own special ids, padded to `vocab_size` entries.
std::vector<GgufKv> gguf_vocab_from_spm(const SentencePieceModel& spm, uint32_t vocab_size, const std::string& file);

// What a Hugging Face folder needs to reproduce a GGUF vocabulary.
struct HfTokenizerFiles {
  SentencePieceModel model;
  nlohmann::json tokenizer_config;
  nlohmann::json special_tokens_map;
};
HfTokenizerFiles hf_tokenizer_from_gguf(const GgufReader& gguf);
// The tokenizer_config.json keys every llama SentencePiece folder we write starts from.
nlohmann::json hf_llama_tokenizer_config_base();
// The same from the keys alone (a legacy GGML vocabulary carried as GGUF keys); `file` names
// the source in errors.
HfTokenizerFiles hf_tokenizer_from_kvs(const std::vector<GgufKv>& kvs, const std::string& file);

}  // namespace lmforge
