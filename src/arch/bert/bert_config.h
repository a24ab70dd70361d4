// Hyperparameters of a BERT encoder (Hugging Face BertModel), from config.json, checked before
// any weight is read: the sizes every tensor shape is then held to.
//
// Only what lmforge's encoder computes is accepted: model_type "bert", absolute position
// embeddings, hidden_act "gelu" (the exact erf GELU), an encoder (not is_decoder, no cross
// attention). Anything else is refused with one sentence naming the key, never approximated.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace lmforge {

struct BertConfig {
  uint32_t vocab_size = 0;
  uint32_t hidden_size = 0;
  uint32_t num_hidden_layers = 0;
  uint32_t num_attention_heads = 0;  // divides hidden_size
  uint32_t intermediate_size = 0;
  uint32_t max_position_embeddings = 512;
  uint32_t type_vocab_size = 2;
  float layer_norm_eps = 1e-12f;

  uint32_t head_dim() const { return hidden_size / num_attention_heads; }
};

// Limits far above any real BERT, so that a hostile config cannot ask for absurd buffers.
inline constexpr uint32_t kMaxBertVocab = 1u << 22;
inline constexpr uint32_t kMaxBertDim = 1u << 16;
inline constexpr uint32_t kMaxBertLayers = 1024;
inline constexpr uint32_t kMaxBertPositions = 1u << 16;
inline constexpr uint32_t kMaxBertTokenTypes = 1024;

// Whether a parsed config.json says model_type "bert" (the routing test; no other check).
bool is_bert_config_json(const nlohmann::json& config);

// Whether `path` is a folder whose config.json says model_type "bert": how embed, tokenize and
// convert route a folder (nothing else is checked; an unreadable config.json gives false and
// the loader that runs next reports it).
bool is_bert_folder(const std::string& path);

// Throws lmforge::Error naming `file` and the key on anything missing, of the wrong type, out
// of range or not computable (see above).
BertConfig bert_config_from_json(const nlohmann::json& config, const std::string& file);

}  // namespace lmforge
