// A BERT encoder's hyperparameters and pooling from the `bert.*` keys of a GGUF file (as
// convert writes them and llama.cpp reads them), held to the same limits as config.json.
#pragma once

#include <optional>
#include <string>

#include "arch/bert/bert_config.h"
#include "arch/pooling.h"

namespace lmforge {

class GgufReader;

// Whether the file's general.architecture is "bert".
bool is_bert_gguf(const GgufReader& g);

// vocab_size comes from token_embd.weight's rows (GGUF has no key for it), type_vocab_size
// from tokenizer.ggml.token_type_count (2 when absent). Throws lmforge::Error naming `file`
// and the key.
BertConfig bert_config_from_gguf(const GgufReader& g, const std::string& file);

// bert.pooling_type (0 none, 1 mean, 2 cls, 3 last); nullopt when the file has none.
std::optional<Pooling> bert_pooling_from_gguf(const GgufReader& g, const std::string& file);

}  // namespace lmforge
