#include "convert/sources/ggml_legacy_llama_source.h"

#include <filesystem>

#include "arch/llama/llama_tensors.h"
#include "formats/ggml_legacy/ggml_legacy_format.h"
#include "formats/ggml_legacy/ggml_legacy_reader.h"

namespace lmforge {

namespace {

using namespace ggml_legacy;

// Meta spelling of a tensor of layer 0 (or a global one): legacy files use Meta's names.
std::string meta_name(LlamaTensor id) { return *spell_llama_tensor({id, 0, false}, LlamaSpelling::kMeta); }

}  // namespace

LlamaModelSource open_ggml_legacy_llama(const std::string& path) {
  GgmlLegacyContents contents = open_ggml_legacy_contents(path);
  const TensorSource* file = contents.tensors.get();
  const Hparams& hp = contents.hparams;
  LlamaModelSource m;
  m.path = path;
  m.description = file->format_description();
  m.name = std::filesystem::path(path).stem().string();
  m.naming = LlamaNaming::kMeta;

  LlamaConfig& c = m.config;
  c.vocab_size = static_cast<uint32_t>(hp.n_vocab);
  c.hidden_size = static_cast<uint32_t>(hp.n_embd);
  c.num_hidden_layers = static_cast<uint32_t>(hp.n_layer);
  c.num_attention_heads = static_cast<uint32_t>(hp.n_head);
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.intermediate_size = static_cast<uint32_t>(n_ff_from_n_mult(c.hidden_size, static_cast<uint64_t>(hp.n_mult)));
  // Not stored in these files: the defaults of llama.cpp's convert-llama-ggml-to-gguf.
  c.max_position_embeddings = 2048;
  c.rms_norm_eps = 5e-6f;
  c.num_key_value_heads = c.num_attention_heads;
  c.has_num_key_value_heads = true;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.unk_token_id = 0;
  if (hp.n_rot != static_cast<int32_t>(c.head_dim))
    m.warnings.push_back("n_rot " + std::to_string(hp.n_rot) + " differs from n_embd / n_head = " + std::to_string(c.head_dim) + "; using the latter");

  // The tensors themselves are the better witness for what the header cannot say: a grouped-
  // query model (LLaMA-2 70B needed -gqa 8 on llama.cpp's command line) and an n_ff that
  // n_mult does not give (the 70B ffn multiplier hack).
  const auto& ts = file->tensors();
  if (auto k = file->find(meta_name(LlamaTensor::kAttnK)); k >= 0 && ts[static_cast<size_t>(k)].shape.size() == 2) {
    const uint64_t rows = ts[static_cast<size_t>(k)].shape[0];
    if (rows % c.head_dim == 0 && rows / c.head_dim >= 1 && c.num_attention_heads % (rows / c.head_dim) == 0 &&
        rows / c.head_dim != c.num_attention_heads) {
      c.num_key_value_heads = static_cast<uint32_t>(rows / c.head_dim);
      m.warnings.push_back("grouped-query attention read from the tensor shapes: " + std::to_string(c.num_key_value_heads) + " KV heads");
    }
  }
  if (auto w1 = file->find(meta_name(LlamaTensor::kFfnGate)); w1 >= 0 && ts[static_cast<size_t>(w1)].shape.size() == 2) {
    const uint64_t rows = ts[static_cast<size_t>(w1)].shape[0];
    if (rows != c.intermediate_size && rows <= UINT32_MAX) {
      m.warnings.push_back("n_ff " + std::to_string(rows) + " taken from layers.0.feed_forward.w1 (n_mult " + std::to_string(hp.n_mult) + " gives " + std::to_string(c.intermediate_size) + ")");
      c.intermediate_size = static_cast<uint32_t>(rows);
    }
  }
  c.tie_word_embeddings = file->find(meta_name(LlamaTensor::kOutput)) < 0;

  std::vector<std::string> tokens;
  std::vector<float> scores = contents.scores;
  std::vector<int32_t> types;
  const auto& text = contents.vocab_text;
  tokens.reserve(text.size());
  types.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto p = piece_for_legacy_text(static_cast<uint32_t>(i), text[i]);
    tokens.push_back(std::move(p.piece));
    types.push_back(p.type);
  }
  auto& kv = m.tokenizer_kvs;
  kv.push_back({"tokenizer.ggml.model", GgufValue::str("llama")});
  kv.push_back({"tokenizer.ggml.tokens", GgufValue::string_array(tokens)});
  kv.push_back({"tokenizer.ggml.scores", GgufValue::f32_array(scores)});
  kv.push_back({"tokenizer.ggml.token_type", GgufValue::i32_array(types)});
  const std::pair<const char*, uint32_t> specials[] = {{"bos", 1}, {"eos", 2}, {"unknown", 0}};
  for (const auto& [key, id] : specials)
    if (id < c.vocab_size) kv.push_back({std::string("tokenizer.ggml.") + key + "_token_id", GgufValue::u32(id)});
  m.weights = std::move(contents.tensors);
  return m;
}

}  // namespace lmforge
