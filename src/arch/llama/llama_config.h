// Hyperparameters of a llama-family model, independent of the file they came from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lmforge {

struct LlamaConfig {
  std::string architecture = "LlamaForCausalLM";  // config.json "architectures"[0]
  std::string model_type = "llama";
  uint32_t vocab_size = 0;
  uint32_t hidden_size = 0;           // n_embd
  uint32_t intermediate_size = 0;     // n_ff
  uint32_t num_hidden_layers = 0;     // n_layer
  uint32_t num_attention_heads = 0;   // n_head
  uint32_t num_key_value_heads = 0;   // n_head_kv; equals n_head when the config omits it
  uint32_t head_dim = 0;              // hidden_size / n_head unless the config says otherwise
  uint32_t max_position_embeddings = 2048;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  std::optional<float> rope_scaling_linear;  // factor of `rope_scaling: {type: linear}`
  bool tie_word_embeddings = false;
  std::optional<uint32_t> bos_token_id, eos_token_id, pad_token_id, unk_token_id;
  std::string torch_dtype;  // as declared, informational

  // Which optional keys the source really had (the GGUF writer only emits those).
  bool has_num_key_value_heads = false;
  bool has_rope_theta = false;
  bool has_head_dim = false;
};

}  // namespace lmforge
