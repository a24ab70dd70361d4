// A GGUF's byte-level BPE vocabulary (tokenizer.ggml.model "gpt2") as the Hugging Face files a
// folder carries for it, for GGUF -> Hugging Face conversion: tokenizer.json (bpe_json's
// writer: vocabulary, merges, the pre-tokenizer's Split regex, a BOS template when the GGUF says
// it adds BOS), tokenizer_config.json (bos/eos/pad/unk tokens, add_bos_token when the GGUF has
// the key, the chat template),
// special_tokens_map.json and generation_config.json (bos id and every end-of-generation id,
// eos first, as Llama 3.1 lists them), so that converting the folder back gives the same
// tokenizer.* keys (convert/gguf_bpe_vocab.h) and tokenizers.js tokenizes as lmforge does.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lmforge {

class GgufReader;

struct HfBpeTokenizerFiles {
  nlohmann::json tokenizer;  // tokenizer.json
  nlohmann::json tokenizer_config;
  nlohmann::json special_tokens_map;
  nlohmann::json generation_config;
  std::vector<uint32_t> eos_ids;  // end-of-generation ids, eos first (config.json's eos_token_id)
};

// True when the GGUF's vocabulary is byte-level BPE (tokenizer.ggml.model "gpt2").
bool gguf_has_bpe_vocab(const GgufReader& gguf);

// Throws lmforge::Error naming `file` for a vocabulary bpe_vocab_from_gguf refuses, or one whose
// pre-tokenizer has no tokenizer.json form (llama.cpp's "default").
HfBpeTokenizerFiles hf_bpe_tokenizer_from_gguf(const GgufReader& gguf, const std::string& file);

}  // namespace lmforge
