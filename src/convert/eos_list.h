// Several end-of-generation ids (Llama 3's `eos_token_id: [128001, 128008, 128009]` in
// config.json or generation_config.json) in the GGUF keys llama.cpp reads.
//
// GGUF has one eos id; llama.cpp adds to it an eot and an eom id and every control token whose
// text it knows as an end of turn (<|eot_id|>, <|end_of_text|>, <|im_end|>, ...). So an id of
// the list needs a key only when its text is not one of those: the first such id becomes
// tokenizer.ggml.eot_token_id, the second tokenizer.ggml.eom_token_id (llama.cpp uses eom only
// to end generation); any further one cannot be expressed and is reported.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "formats/gguf/gguf_value.h"

namespace lmforge {

// Every id of config.json's eos list (`config_ids`) and of generation_config.json's
// eos_token_id (an integer or a list); ids outside the vocabulary are dropped.
std::vector<uint32_t> eos_list(const std::vector<uint32_t>& config_ids, const nlohmann::json& generation_config,
                               uint32_t vocab_size);

struct EosListKeys {
  std::vector<GgufKv> kvs;            // tokenizer.ggml.eot_token_id / eom_token_id, when needed
  std::vector<std::string> warnings;  // ids no key can carry
};

// `tokens`/`types`: the GGUF token list and types; `eos`: the eos id written (if any).
EosListKeys eos_list_keys(const std::vector<uint32_t>& ids, const std::vector<std::string>& tokens,
                          const std::vector<int32_t>& types, std::optional<uint32_t> eos);

}  // namespace lmforge
