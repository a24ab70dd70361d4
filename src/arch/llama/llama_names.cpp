#include "arch/llama/llama_names.h"

namespace lmforge {

namespace {

std::optional<std::string> respell(const std::string& name, LlamaSpelling from, LlamaSpelling to) {
  const auto t = parse_llama_tensor_name(name, from);
  if (!t) return std::nullopt;
  return spell_llama_tensor(*t, to);
}

}  // namespace

std::optional<std::string> hf_to_gguf_name(const std::string& hf) { return respell(hf, LlamaSpelling::kHuggingFace, LlamaSpelling::kGguf); }
std::optional<std::string> gguf_to_hf_name(const std::string& gguf) { return respell(gguf, LlamaSpelling::kGguf, LlamaSpelling::kHuggingFace); }
std::optional<std::string> meta_to_gguf_name(const std::string& meta) { return respell(meta, LlamaSpelling::kMeta, LlamaSpelling::kGguf); }
std::optional<std::string> gguf_to_meta_name(const std::string& gguf) { return respell(gguf, LlamaSpelling::kGguf, LlamaSpelling::kMeta); }

std::optional<std::vector<uint64_t>> llama_tensor_shape(const std::string& gguf_name, const LlamaConfig& c) {
  const auto t = parse_llama_tensor_name(gguf_name, LlamaSpelling::kGguf);
  if (!t) return std::nullopt;
  return llama_tensor_shape(*t, c);
}

bool is_ignored_hf_tensor(const std::string& hf) { return is_ignored_llama_tensor(hf, LlamaSpelling::kHuggingFace); }
bool is_ignored_meta_tensor(const std::string& meta) { return is_ignored_llama_tensor(meta, LlamaSpelling::kMeta); }

RotaryRole rotary_role(const std::string& gguf_name) {
  const auto t = parse_llama_tensor_name(gguf_name, LlamaSpelling::kGguf);
  return t ? llama_tensor_row(t->id).rotary : RotaryRole::kNone;
}

}  // namespace lmforge
