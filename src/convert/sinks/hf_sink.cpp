#include "convert/sinks/hf_sink.h"

#include "convert/sources/open_llama_model_source.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include "convert/gguf_vocab.h"
#include "convert/hf_bpe_tokenizer.h"
#include "convert/progress_producers.h"
#include "convert/tensor_cast.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/safetensors_writer.h"
#include "formats/sentencepiece_model_writer.h"
#include "arch/llama/llama_config_json.h"
#include "arch/llama/llama_names.h"

namespace lmforge {

namespace {

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.good()) fail(path, "cannot write file");
}

// tokenizer_config.json and special_tokens_map.json for a bare SentencePiece model (Meta's
// release ships tokenizer.model alone): the special pieces by the model's own ids.
HfTokenizerFiles tokenizer_files_from_spm(const SentencePieceModel& spm, const LlamaConfig& c) {
  HfTokenizerFiles out;
  out.model = spm;
  auto& cfg = out.tokenizer_config;
  auto& map = out.special_tokens_map;
  cfg = hf_llama_tokenizer_config_base();
  map = nlohmann::json::object();
  cfg["add_bos_token"] = true;
  cfg["add_eos_token"] = false;
  const std::pair<const char*, int32_t> named[] = {{"bos_token", spm.bos_id}, {"eos_token", spm.eos_id}, {"unk_token", spm.unk_id}, {"pad_token", spm.pad_id}};
  for (const auto& [key, id] : named) {
    if (id < 0 || static_cast<size_t>(id) >= spm.pieces.size()) continue;
    cfg[key] = spm.pieces[static_cast<size_t>(id)].piece;
    map[key] = spm.pieces[static_cast<size_t>(id)].piece;
  }
  cfg["model_max_length"] = c.max_position_embeddings;
  return out;
}

// The Hugging Face name of a source tensor; nullopt for tensors that carry no weights.
std::optional<std::string> hf_name_of(const LlamaModelSource& m, const TensorInfo& t, std::string& gguf) {
  switch (m.naming) {
    case LlamaNaming::kHuggingFace:
      if (is_ignored_hf_tensor(t.name)) return std::nullopt;
      if (auto g = hf_to_gguf_name(t.name)) {
        gguf = *g;
        return t.name;
      }
      break;
    case LlamaNaming::kMeta:
      if (is_ignored_meta_tensor(t.name)) return std::nullopt;
      if (auto g = meta_to_gguf_name(t.name)) {
        gguf = *g;
        if (auto hf = gguf_to_hf_name(*g)) return hf;
      }
      break;
    case LlamaNaming::kGguf:
      gguf = t.name;
      if (auto hf = gguf_to_hf_name(t.name)) return hf;
      if (t.name == "rope_freqs.weight") {
        // llama.cpp stores Llama 3 rope scaling only as these per-frequency divisors; config.json
        // needs the factor, low/high frequency factors and original context they came from,
        // which the divisors alone do not determine.
        fail(m.path, "the GGUF's Llama 3 rope scaling (rope_freqs.weight) cannot be written back as a config.json "
                     "rope_scaling: convert the original Hugging Face folder instead");
      }
      fail(m.path, "cannot map GGUF tensor " + quoted_for_message(t.name) + " to a Hugging Face name");
  }
  fail(t.file.empty() ? m.path : t.file, "cannot map tensor " + quoted_for_message(t.name) + " to a Hugging Face llama tensor");
}

}  // namespace

ConvertReport write_llama_hf(LlamaModelSource& model, const std::string& dst_dir, const ConvertOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  LlamaConfig c = model.config;
  const auto* gguf = dynamic_cast<const GgufReader*>(model.weights.get());
  // A GGUF's vocabulary keys carry more than a SentencePiece model (add_bos, chat template).
  HfTokenizerFiles tok;
  std::optional<HfBpeTokenizerFiles> bpe;  // byte-level BPE: tokenizer.json instead of tokenizer.model
  if (gguf && gguf_has_bpe_vocab(*gguf)) {
    bpe = hf_bpe_tokenizer_from_gguf(*gguf, model.path);
    if (bpe->eos_ids.size() > 1) c.eos_token_ids = bpe->eos_ids;
  } else if (gguf)
    tok = hf_tokenizer_from_gguf(*gguf);
  else if (model.spm)
    tok = tokenizer_files_from_spm(*model.spm, c);
  else if (!model.tokenizer_kvs.empty())
    tok = hf_tokenizer_from_kvs(model.tokenizer_kvs, model.path);  // a vocabulary stored in the model file (legacy GGML)
  else
    fail(model.path, "no SentencePiece tokenizer to write as tokenizer.model");
  if (opt.outtype && dtype_is_quantized(*opt.outtype))
    throw UsageError("a Hugging Face folder holds float tensors: use --outtype f32, f16 or bf16");

  const auto& sources = model.weights->tensors();
  std::vector<TensorToWrite> out;
  std::vector<size_t> source_of;
  std::vector<std::string> gguf_names;
  uint64_t total = 0;
  DType widest = DType::F16;
  for (size_t i = 0; i < sources.size(); ++i) {
    const TensorInfo& t = sources[i];
    std::string gname;
    auto hf = hf_name_of(model, t, gname);
    if (!hf) continue;
    const std::string& file = t.file.empty() ? model.path : t.file;
    if (!can_decode(t.dtype)) fail(file, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which cannot be converted");
    if (model.naming != LlamaNaming::kGguf) {
      auto expect = llama_tensor_shape(gname, c);
      if (expect && *expect != t.shape) fail(file, "tensor " + quoted_for_message(t.name) + " does not have the shape the model's hyperparameters imply");
    }
    // Quantized tensors become F32 (exact: every dequantized value is representable).
    DType to = opt.outtype.value_or(dtype_is_quantized(t.dtype) ? DType::F32 : t.dtype);
    if (t.shape.size() == 1) to = DType::F32;
    if (to == DType::F32 && t.shape.size() == 2) widest = DType::F32;
    if (to == DType::BF16 && t.shape.size() == 2 && widest != DType::F32) widest = DType::BF16;
    // GGUF and Meta hold Q/K rows in adjacent-pair order; Hugging Face wants rotate_half.
    // (qwen2 GGUFs keep the Hugging Face order: NEOX rope.)
    const RotaryRole role = model.naming == LlamaNaming::kHuggingFace || rope_neox(c) ? RotaryRole::kNone : rotary_role(gname);
    const uint64_t hd = c.head_dim;
    const uint32_t heads = role == RotaryRole::kQuery ? c.num_attention_heads : c.num_key_value_heads;
    if (role != RotaryRole::kNone && (t.shape.empty() || hd % 2 != 0 || t.shape[0] != uint64_t{heads} * hd))
      fail(file, "tensor " + quoted_for_message(t.name) + " cannot be split into " + std::to_string(heads) + " heads of " + std::to_string(hd));

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
    TensorSource* weights = model.weights.get();
    w.produce = [weights, i, from, to, rows, row_len, role, hd, bias, name] {
      TensorBytes bytes = weights->read(i);
      if (role == RotaryRole::kNone) return cast_rows(bytes, from, to, rows, row_len, {}, name);
      auto map = [hd](uint64_t r) { return gguf_row_for_hf_row(r, hd); };
      if (bias) return cast_rows(bytes, from, to, row_len, 1, map, name);
      return cast_rows(bytes, from, to, rows, row_len, map, name);
    };
    total += t.nbytes;
    out.push_back(std::move(w));
    source_of.push_back(i);
    gguf_names.push_back(gname);
  }
  if (out.empty()) fail(model.path, "no tensors found");
  if (model.naming != LlamaNaming::kGguf) {
    // A GGUF is taken as it is; other sources must hold the whole model.
    auto has = [&](const std::string& n) { return std::find(gguf_names.begin(), gguf_names.end(), n) != gguf_names.end(); };
    for (const LlamaTensor required : {LlamaTensor::kTokenEmbd, LlamaTensor::kOutputNorm})
      if (!has(gguf_weight_name(required))) fail(model.path, "missing tensor for " + gguf_weight_name(required));
    for (uint32_t l = 0; l < c.num_hidden_layers; ++l)
      for (const auto& row : llama_tensor_table())
        if (row.per_layer && !has(gguf_weight_name(row.id, l))) fail(model.path, "missing tensor for " + gguf_weight_name(row.id, l));
    c.tie_word_embeddings = !has(gguf_weight_name(LlamaTensor::kOutput));
  }
  c.torch_dtype = widest == DType::F32 ? "float32" : widest == DType::BF16 ? "bfloat16" : "float16";

  AtomicOutputDir dir(dst_dir, opt.overwrite);
  std::vector<std::string> lines;
  std::vector<uint64_t> sizes;
  for (size_t k = 0; k < out.size(); ++k) {
    const TensorInfo& t = sources[source_of[k]];
    lines.push_back("[" + std::to_string(k + 1) + "/" + std::to_string(out.size()) + "] " + t.name + " -> " + out[k].info.name + " " +
                    std::string(dtype_name(t.dtype)) + " -> " + std::string(dtype_name(out[k].info.dtype)));
    sizes.push_back(t.nbytes);
  }
  Progress bar(total, opt.quiet);
  for (const auto& w : model.warnings) bar.log("warning: " + w);
  attach_progress(out, lines, sizes, bar);
  const std::string tmp = dir.temp_dir();
  if (opt.max_shard_bytes > 0)
    write_safetensors_sharded(tmp, out, {{"format", "pt"}}, opt.max_shard_bytes, false);
  else
    write_safetensors(tmp + "/model.safetensors", out, {{"format", "pt"}}, false);

  nlohmann::json config = llama_config_to_json(c);
  if (gguf) {
    if (const GgufValue* n = gguf->find_kv("general.name"); n && n->type == GgufType::STRING) config["_name_or_path"] = n->s;
  } else if (!model.name.empty()) {
    config["_name_or_path"] = model.name;
  }
  write_text_file(tmp + "/config.json", config.dump(2) + "\n");
  if (bpe) {
    write_text_file(tmp + "/tokenizer.json", bpe->tokenizer.dump(2) + "\n");
    write_text_file(tmp + "/tokenizer_config.json", bpe->tokenizer_config.dump(2) + "\n");
    write_text_file(tmp + "/special_tokens_map.json", bpe->special_tokens_map.dump(2) + "\n");
    write_text_file(tmp + "/generation_config.json", bpe->generation_config.dump(2) + "\n");
  } else {
    write_text_file(tmp + "/tokenizer_config.json", tok.tokenizer_config.dump(2) + "\n");
    write_text_file(tmp + "/special_tokens_map.json", tok.special_tokens_map.dump(2) + "\n");
    auto sp = serialize_sentencepiece_model(tok.model);
    write_text_file(tmp + "/tokenizer.model", std::string(sp.begin(), sp.end()));
  }
  dir.commit();
  bar.finish();
  return make_report(dst_dir, out.size(), total, t0);
}

ConvertReport convert_gguf_to_hf(const std::string& src, const std::string& dst_dir, const ConvertOptions& opt) {
  // One writer for every whole-model source: the GGUF is opened as a LlamaModelSource (GGUF
  // naming, adjacent-pair Q/K rows) and write_llama_hf does names, row order and tokenizer.
  LlamaModelSource model = open_llama_model_source(src);
  if (model.naming != LlamaNaming::kGguf) fail(src, "not a GGUF file");
  return write_llama_hf(model, dst_dir, opt);
}

}  // namespace lmforge
