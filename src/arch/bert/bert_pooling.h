// The pooling a sentence-transformers folder asks for: modules.json lists the modules
// (Transformer, Pooling, Normalize), and the Pooling module's folder (usually 1_Pooling) holds
// config.json with one pooling_mode_* flag set.
//
// Accepted: mean tokens, CLS token, last token; a Normalize module (embeddings are
// L2-normalized by default anyway). Refused with one sentence: max / mean-sqrt-len / weighted
// mean pooling, modules lmforge does not run (Dense, ...), module paths that leave the folder,
// a word_embedding_dimension other than the model's. A folder without modules.json is a plain
// Hugging Face BertModel: mean pooling, and `source` says it was the default.
#pragma once

#include <cstdint>
#include <string>

#include "arch/pooling.h"

namespace lmforge {

struct BertPoolingChoice {
  Pooling pooling = Pooling::Mean;
  bool normalize_module = false;  // modules.json lists sentence_transformers.models.Normalize
  std::string source;             // "1_Pooling/config.json", or why the default was taken
};

// `hidden_size`: the model's, which word_embedding_dimension must equal.
BertPoolingChoice read_bert_pooling(const std::string& folder, uint32_t hidden_size);

}  // namespace lmforge
