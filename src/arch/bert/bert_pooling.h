// The pooling a sentence-transformers folder asks for: modules.json lists the modules
// (Transformer, Pooling, Normalize), and the Pooling module's folder (usually 1_Pooling) holds
// config.json with one pooling_mode_* flag set (or, without any flag, a "pooling_mode" string:
// "mean", "cls" or "lasttoken").
//
// Accepted: mean tokens, CLS token, last token; a Normalize module (embeddings are
// L2-normalized by default anyway). Refused with one sentence: max / mean-sqrt-len / weighted
// mean pooling, modules lmforge does not run (Dense, ...), module paths that leave the folder,
// a word_embedding_dimension other than the model's. A folder without modules.json is a plain
// Hugging Face BertModel: mean pooling, and `source` says it was the default.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "arch/pooling.h"

namespace lmforge {

struct BertPoolingChoice {
  Pooling pooling = Pooling::Mean;
  bool normalize_module = false;  // modules.json lists sentence_transformers.models.Normalize
  std::string source;             // "1_Pooling/config.json", or why the default was taken
};

// `hidden_size`: the model's, which word_embedding_dimension must equal.
BertPoolingChoice read_bert_pooling(const std::string& folder, uint32_t hidden_size);

// The two files' rules, on parsed JSON (read_bert_pooling reads the files; the fuzz harness
// calls these directly). modules.json: the Pooling module's folder ("" when it lists none; ok
// is false then) and whether a Normalize module is listed.
struct BertModules {
  bool has_pooling = false;
  std::string pooling_dir;
  bool normalize = false;
};
BertModules parse_bert_modules(const nlohmann::json& modules, const std::string& file);
// The pooling module's config.json.
Pooling parse_bert_pooling_config(const nlohmann::json& config, const std::string& file, uint32_t hidden_size);

}  // namespace lmforge
