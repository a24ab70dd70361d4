// Hyperparameters of a llama-family model, independent of the file they came from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lmforge {

// config.json `rope_scaling: {rope_type: "llama3", ...}` (Llama 3.1 and later): each rotary
// frequency is divided by a factor between 1 (short wavelengths) and `factor` (wavelengths
// longer than the original context), smoothly in between (arch/llama/llama_rope_scaling.h).
struct Llama3RopeScaling {
  float factor = 8.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  uint32_t original_max_position_embeddings = 8192;
};

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
  std::optional<Llama3RopeScaling> rope_scaling_llama3;  // as config.json gave it (absent from GGUF)
  // Per-frequency divisors of the rotary angles (head_dim / 2 of them), as llama.cpp stores
  // them in the `rope_freqs.weight` tensor; empty: none. Computed from rope_scaling_llama3 for
  // config.json, read from the tensor for GGUF.
  std::vector<float> rope_freq_factors;
  bool tie_word_embeddings = false;
  // Qwen2: the Q, K and V projections have biases (blk.N.attn_{q,k,v}.bias).
  bool attention_bias = false;
  // Qwen2 / Mistral `sliding_window`, recorded (GGUF `<arch>.attention.sliding_window`); the
  // engine attends to the whole context, so a config that turns the window on is refused.
  std::optional<uint32_t> sliding_window;
  std::optional<uint32_t> bos_token_id, eos_token_id, pad_token_id, unk_token_id;
  // Every end-of-generation id config.json lists (`eos_token_id: [128001, 128009]`), the
  // first one being eos_token_id; empty when it names one id or none.
  std::vector<uint32_t> eos_token_ids;
  std::string torch_dtype;  // as declared, informational

  // Which optional keys the source really had (the GGUF writer only emits those).
  bool has_num_key_value_heads = false;
  bool has_rope_theta = false;
  bool has_head_dim = false;
};

// The GGUF `general.architecture` of a config, which also prefixes its keys: "qwen2" for
// Qwen2ForCausalLM, "llama" otherwise.
inline const char* gguf_architecture(const LlamaConfig& c) {
  return c.architecture == "Qwen2ForCausalLM" ? "qwen2" : "llama";
}

// Whether the GGUF keeps Q/K rows in Hugging Face's rotate_half order and rotates them in
// ggml's NEOX mode (qwen2, as llama.cpp's converter and graph do) rather than permuting them
// into adjacent pairs (llama).
inline bool rope_neox(const LlamaConfig& c) { return c.architecture == "Qwen2ForCausalLM"; }

}  // namespace lmforge
