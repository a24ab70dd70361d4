#include "convert/gguf_to_hf.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "convert/gguf_vocab.h"
#include "convert/tensor_cast.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "convert/progress_producers.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/safetensors_writer.h"
#include "formats/sentencepiece_model_writer.h"
#include "model/llama_config.h"
#include "model/llama_config_json.h"
#include "model/llama_names.h"

namespace lmforge {

namespace {

uint32_t require_u32(const GgufReader& g, const std::string& key, const std::string& file) {
  const GgufValue* v = g.find_kv(key);
  if (!v) fail(file, "missing metadata key " + key);
  auto u = v->as_uint();
  if (!u || *u > UINT32_MAX) fail(file, "metadata key " + key + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(*u);
}

std::optional<float> optional_f32(const GgufReader& g, const std::string& key, const std::string& file) {
  const GgufValue* v = g.find_kv(key);
  if (!v) return std::nullopt;
  auto f = v->as_float();
  if (!f) fail(file, "metadata key " + key + " must be a float");
  return static_cast<float>(*f);
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.good()) fail(path, "cannot write file");
}

}  // namespace

LlamaConfig llama_config_from_gguf(const GgufReader& g, const std::string& file) {
  const GgufValue* arch = g.find_kv("general.architecture");
  if (!arch || arch->type != GgufType::STRING) fail(file, "missing general.architecture");
  if (arch->s != "llama") fail(file, "architecture " + quoted_for_message(arch->s) + " is not supported (only llama)");
  LlamaConfig c;
  c.hidden_size = require_u32(g, "llama.embedding_length", file);
  c.intermediate_size = require_u32(g, "llama.feed_forward_length", file);
  c.num_hidden_layers = require_u32(g, "llama.block_count", file);
  c.num_attention_heads = require_u32(g, "llama.attention.head_count", file);
  c.max_position_embeddings = require_u32(g, "llama.context_length", file);
  if (c.num_attention_heads == 0 || c.hidden_size % c.num_attention_heads != 0)
    fail(file, "llama.embedding_length is not a multiple of llama.attention.head_count");
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (g.find_kv("llama.attention.key_length")) {
    c.head_dim = require_u32(g, "llama.attention.key_length", file);
    c.has_head_dim = true;
  }
  c.num_key_value_heads = c.num_attention_heads;
  if (g.find_kv("llama.attention.head_count_kv")) {
    c.num_key_value_heads = require_u32(g, "llama.attention.head_count_kv", file);
    c.has_num_key_value_heads = true;
  }
  if (c.num_key_value_heads == 0 || c.num_attention_heads % c.num_key_value_heads != 0)
    fail(file, "llama.attention.head_count is not a multiple of llama.attention.head_count_kv");
  auto eps = optional_f32(g, "llama.attention.layer_norm_rms_epsilon", file);
  if (!eps) fail(file, "missing metadata key llama.attention.layer_norm_rms_epsilon");
  c.rms_norm_eps = *eps;
  if (auto theta = optional_f32(g, "llama.rope.freq_base", file)) {
    c.rope_theta = *theta;
    c.has_rope_theta = true;
  }
  if (const GgufValue* t = g.find_kv("llama.rope.scaling.type"); t && t->type == GgufType::STRING && t->s != "none") {
    if (t->s != "linear") fail(file, "rope scaling type " + quoted_for_message(t->s) + " is not supported");
    auto factor = optional_f32(g, "llama.rope.scaling.factor", file);
    if (!factor) fail(file, "llama.rope.scaling.type is linear but llama.rope.scaling.factor is missing");
    c.rope_scaling_linear = *factor;
  }
  const GgufValue* tokens = g.find_kv("tokenizer.ggml.tokens");
  c.vocab_size = g.find_kv("llama.vocab_size") ? require_u32(g, "llama.vocab_size", file)
                                               : static_cast<uint32_t>(tokens ? tokens->array.size() : 0);
  auto id = [&](const char* key) -> std::optional<uint32_t> {
    if (!g.find_kv(key)) return std::nullopt;
    return require_u32(g, key, file);
  };
  c.bos_token_id = id("tokenizer.ggml.bos_token_id");
  c.eos_token_id = id("tokenizer.ggml.eos_token_id");
  c.pad_token_id = id("tokenizer.ggml.padding_token_id");
  c.tie_word_embeddings = g.find("output.weight") < 0;
  return c;
}

ConvertReport convert_gguf_to_hf(const std::string& src, const std::string& dst_dir, const ConvertOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto gguf = GgufReader::open(src);
  LlamaConfig c = llama_config_from_gguf(*gguf, src);
  HfTokenizerFiles tok = hf_tokenizer_from_gguf(*gguf);
  if (opt.outtype && dtype_is_quantized(*opt.outtype))
    throw UsageError("a Hugging Face folder holds float tensors: use --outtype f32, f16 or bf16");

  std::vector<TensorToWrite> out;
  uint64_t total = 0;
  DType widest = DType::F16;
  for (size_t i = 0; i < gguf->tensors().size(); ++i) {
    const TensorInfo& t = gguf->tensors()[i];
    auto hf = gguf_to_hf_name(t.name);
    if (!hf) fail(src, "cannot map GGUF tensor " + quoted_for_message(t.name) + " to a Hugging Face name");
    if (!can_decode(t.dtype)) fail(src, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which cannot be converted");
    // Quantized tensors become F32 (exact: every dequantized value is representable).
    DType to = opt.outtype.value_or(dtype_is_quantized(t.dtype) ? DType::F32 : t.dtype);
    if (t.shape.size() == 1) to = DType::F32;
    if (to == DType::F32 && t.shape.size() == 2) widest = DType::F32;
    if (to == DType::BF16 && t.shape.size() == 2 && widest != DType::F32) widest = DType::BF16;
    const RotaryRole role = rotary_role(t.name);
    const uint64_t hd = c.head_dim;
    const uint32_t heads = role == RotaryRole::kQuery ? c.num_attention_heads : c.num_key_value_heads;
    if (role != RotaryRole::kNone && (t.shape.empty() || hd % 2 != 0 || t.shape[0] != uint64_t{heads} * hd))
      fail(src, "tensor " + quoted_for_message(t.name) + " cannot be split into " + std::to_string(heads) + " heads of " + std::to_string(hd));

    TensorToWrite w;
    w.info.name = *hf;
    w.info.dtype = to;
    w.info.shape = t.shape;
    w.info.nbytes = *dtype_nbytes(to, t.numel());
    const bool bias = t.shape.size() == 1;
    const uint64_t row_len = t.shape.empty() ? 1 : t.shape.back();
    const uint64_t rows = t.shape.empty() ? 1 : t.numel() / row_len;
    const DType from = t.dtype;
    const std::string name = t.name;
    w.produce = [&gguf, i, from, to, rows, row_len, role, hd, bias, name] {
      TensorBytes bytes = gguf->read(i);
      if (role == RotaryRole::kNone) return cast_rows(bytes, from, to, rows, row_len, {}, name);
      auto map = [hd](uint64_t r) { return gguf_row_for_hf_row(r, hd); };
      if (bias) return cast_rows(bytes, from, to, row_len, 1, map, name);
      return cast_rows(bytes, from, to, rows, row_len, map, name);
    };
    total += t.nbytes;
    out.push_back(std::move(w));
  }
  c.torch_dtype = widest == DType::F32 ? "float32" : widest == DType::BF16 ? "bfloat16" : "float16";

  AtomicOutputDir dir(dst_dir, opt.overwrite);
  std::vector<std::string> lines;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < out.size(); ++i) {
    const TensorInfo& t = gguf->tensors()[i];
    lines.push_back("[" + std::to_string(i + 1) + "/" + std::to_string(out.size()) + "] " + t.name + " -> " +
                    out[i].info.name + " " + std::string(dtype_name(t.dtype)) + " -> " + std::string(dtype_name(out[i].info.dtype)));
    sizes.push_back(t.nbytes);
  }
  Progress bar(total, opt.quiet);
  attach_progress(out, lines, sizes, bar);
  const std::string tmp = dir.temp_dir();
  if (opt.max_shard_bytes > 0)
    write_safetensors_sharded(tmp, out, {{"format", "pt"}}, opt.max_shard_bytes, false);
  else
    write_safetensors(tmp + "/model.safetensors", out, {{"format", "pt"}}, false);

  nlohmann::json config = llama_config_to_json(c);
  if (const GgufValue* n = gguf->find_kv("general.name"); n && n->type == GgufType::STRING) config["_name_or_path"] = n->s;
  write_text_file(tmp + "/config.json", config.dump(2) + "\n");
  write_text_file(tmp + "/tokenizer_config.json", tok.tokenizer_config.dump(2) + "\n");
  write_text_file(tmp + "/special_tokens_map.json", tok.special_tokens_map.dump(2) + "\n");
  auto sp = serialize_sentencepiece_model(tok.model);
  write_text_file(tmp + "/tokenizer.model", std::string(sp.begin(), sp.end()));
  dir.commit();
  bar.finish();
  return make_report(dst_dir, out.size(), total, t0);
}

}  // namespace lmforge
