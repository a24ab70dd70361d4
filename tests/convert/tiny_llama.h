// A tiny synthetic llama for converter tests: one layer, 2 query heads and 1 KV head of 16,
// hidden 32, ff 64, vocabulary 4, in Hugging Face naming, with GGUF tokenizer keys.
#pragma once

#include <memory>

#include "convert/llama_source.h"
#include "convert/memory_source.h"

namespace lmforge {

// The tensors of a one-layer GQA llama (2 query heads and 1 KV head of 16) in Hugging Face
// naming, in an order unlike GGUF's.
inline void add_tiny_llama_tensors(MemorySource& s) {
  s.add("lm_head.weight", {4, 32});
  s.add("model.layers.0.mlp.down_proj.weight", {32, 64});
  s.add("model.layers.0.self_attn.k_proj.weight", {16, 32});
  s.add("model.layers.0.self_attn.q_proj.weight", {32, 32});
  s.add("model.layers.0.self_attn.v_proj.weight", {16, 32});
  s.add("model.layers.0.self_attn.o_proj.weight", {32, 32});
  s.add("model.layers.0.mlp.gate_proj.weight", {64, 32});
  s.add("model.layers.0.mlp.up_proj.weight", {64, 32});
  s.add("model.layers.0.input_layernorm.weight", {32});
  s.add("model.layers.0.post_attention_layernorm.weight", {32});
  s.add("model.layers.0.self_attn.rotary_emb.inv_freq", {8});  // a buffer: dropped
  s.add("model.norm.weight", {32});
  s.add("model.embed_tokens.weight", {4, 32});
}

inline LlamaModelSource tiny_llama_model() {
  LlamaModelSource m;
  m.path = "memory";
  m.name = "tiny";
  m.naming = LlamaNaming::kHuggingFace;
  auto& c = m.config;
  c.vocab_size = 4, c.hidden_size = 32, c.intermediate_size = 64, c.num_hidden_layers = 1;
  c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 16, c.has_num_key_value_heads = true;
  c.rms_norm_eps = 1e-5f;
  auto src = std::make_unique<MemorySource>();
  add_tiny_llama_tensors(*src);
  m.weights = std::move(src);
  m.tokenizer_kvs = {{"tokenizer.ggml.model", GgufValue::str("llama")},
                     {"tokenizer.ggml.tokens", GgufValue::string_array({"<unk>", "<s>", "</s>", "\xE2\x96\x81hi"})},
                     {"tokenizer.ggml.scores", GgufValue::f32_array({0, 0, 0, -1.5f})},
                     {"tokenizer.ggml.token_type", GgufValue::i32_array({2, 3, 3, 1})}};
  return m;
}

}  // namespace lmforge
