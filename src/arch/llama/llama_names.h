// Tensor-name translation between the spellings of llama_tensors.h (GGUF, Hugging Face,
// Meta), the rotary row permutation between their Q/K layouts, and the GGUF-name shortcuts
// most callers want. Every answer comes from the one table in llama_tensors.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "arch/llama/llama_tensors.h"

namespace lmforge {

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"; nullopt if not a llama
// tensor name.
std::optional<std::string> hf_to_gguf_name(const std::string& hf);
std::optional<std::string> gguf_to_hf_name(const std::string& gguf);
// Meta / legacy-GGML name <-> GGUF name ("layers.3.feed_forward.w1.weight" <->
// "blk.3.ffn_gate.weight"); nullopt when it is not a llama tensor.
std::optional<std::string> meta_to_gguf_name(const std::string& meta);
std::optional<std::string> gguf_to_meta_name(const std::string& gguf);

// The row-major shape `config` implies for a GGUF llama tensor (weights and biases); nullopt
// when the name is not a llama tensor or names a layer the config does not have.
std::optional<std::vector<uint64_t>> llama_tensor_shape(const std::string& gguf_name, const LlamaConfig& config);

// Tensors checkpoints carry that are not weights and are dropped on conversion.
bool is_ignored_hf_tensor(const std::string& hf);      // rotary caches, attention masks
bool is_ignored_meta_tensor(const std::string& meta);  // "rope.freqs"

// Whether a GGUF tensor holds rotary query or key rows (weights and biases).
RotaryRole rotary_role(const std::string& gguf_name);

// HF stores each head's rotary dimensions as two halves (rotate_half); ggml's llama RoPE
// rotates adjacent pairs. For output row r of the GGUF (pair) layout, the HF row it comes from.
inline uint64_t hf_row_for_gguf_row(uint64_t r, uint64_t head_dim) {
  const uint64_t h = r / head_dim, rem = r % head_dim;
  return h * head_dim + (rem % 2) * (head_dim / 2) + rem / 2;
}
// The inverse: for output row r of the HF layout, the GGUF row it comes from.
inline uint64_t gguf_row_for_hf_row(uint64_t r, uint64_t head_dim) {
  const uint64_t h = r / head_dim, rem = r % head_dim;
  const uint64_t half = head_dim / 2;
  return h * head_dim + 2 * (rem % half) + rem / half;
}

}  // namespace lmforge
