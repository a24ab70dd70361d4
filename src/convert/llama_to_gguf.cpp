#include "convert/hf_to_gguf.h"
#include "convert/llama_source.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include "convert/tensor_cast.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "core/progress.h"
#include "formats/gguf/gguf_writer.h"
#include "quant/type_traits.h"
#include "arch/llama/llama_names.h"

namespace lmforge {

namespace {

struct Planned {
  size_t source_index;
  std::string name;  // GGUF name
  DType from, to;
  std::vector<uint64_t> shape;
  RotaryRole rotary;
  std::tuple<int, uint64_t, int> order;
};

// Canonical tensor order: embeddings, layers in order (llama.cpp's per-layer order), then the
// output norm and head. A fixed order makes conversions reproducible whatever the shard
// layout of the source.
std::tuple<int, uint64_t, int> tensor_order(const std::string& gguf) {
  const int bias = gguf.size() > 5 && gguf.substr(gguf.size() - 5) == ".bias" ? 1 : 0;
  if (gguf.rfind("token_embd.", 0) == 0) return {0, 0, bias};
  if (gguf.rfind("output_norm.", 0) == 0) return {2, 0, bias};
  if (gguf.rfind("output.", 0) == 0) return {3, 0, bias};
  const size_t dot = gguf.find('.', 4);
  const uint64_t layer = std::stoull(gguf.substr(4, dot - 4));
  const std::string rest = gguf.substr(dot + 1);
  const auto& parts = llama_layer_parts();
  for (size_t k = 0; k < parts.size(); ++k)
    if (rest.rfind(parts[k] + ".", 0) == 0) return {1, layer, 2 * static_cast<int>(k) + bias};
  return {1, layer, 100};
}

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "{";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[s.size() - 1 - i]);
  return t + "}";
}

std::string dims_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

}  // namespace

ConvertReport convert_hf_to_gguf(const std::string& src_dir, const std::string& dst, const ConvertOptions& opt) {
  LlamaModelSource model = open_llama_model_source(src_dir);
  return write_llama_gguf(model, dst, opt);
}

namespace {

// The GGUF name of a source tensor; nullopt for tensors that are dropped (rotary caches).
std::optional<std::string> gguf_name_of(const LlamaModelSource& m, const TensorInfo& t) {
  switch (m.naming) {
    case LlamaNaming::kHuggingFace:
      if (is_ignored_hf_tensor(t.name)) return std::nullopt;
      if (auto n = hf_to_gguf_name(t.name)) return n;
      break;
    case LlamaNaming::kMeta:
      if (is_ignored_meta_tensor(t.name)) return std::nullopt;
      if (auto n = meta_to_gguf_name(t.name)) return n;
      break;
    case LlamaNaming::kGguf:
      if (t.name == "rope_freqs.weight") return std::nullopt;
      if (llama_tensor_shape(t.name, m.config)) return t.name;
      break;
  }
  fail(t.file.empty() ? m.path : t.file, "cannot map tensor " + quoted_for_message(t.name) + " to a llama GGUF tensor");
}

// Quantized types whose blocks are copied as the source gives them when no --outtype is asked:
// those llama.cpp has a file type for (the most common one becomes the file's general.file_type).
bool keeps_quantized(DType t) { return dtype_is_quantized(t) && llama_ftype(t).has_value(); }

}  // namespace

ConvertReport write_llama_gguf(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const LlamaConfig& c = model.config;
  const std::string& src_dir = model.path;
  const auto& sources = model.weights->tensors();
  if (opt.outtype && !can_encode(*opt.outtype)) throw UsageError("unsupported --outtype " + std::string(dtype_name(*opt.outtype)));
  // Without --outtype: F16 for float sources; a quantized source keeps its blocks.
  DType outtype = opt.outtype.value_or(DType::F16);
  std::map<DType, uint64_t> quantized_elements;
  if (!opt.outtype)
    for (const auto& t : sources)
      if (keeps_quantized(t.dtype)) quantized_elements[t.dtype] += t.numel();
  if (!quantized_elements.empty())
    outtype = std::max_element(quantized_elements.begin(), quantized_elements.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; })->first;
  std::vector<std::string> notes;
  for (const auto& w : model.warnings) notes.push_back("warning: " + w);

  // Plan every tensor before writing anything, so a bad tensor fails before any output.
  std::vector<Planned> plan;
  bool has_output = false;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& t = sources[i];
    auto name = gguf_name_of(model, t);
    if (!name) continue;
    const auto expect = llama_tensor_shape(*name, c);
    if (expect && *expect != t.shape)
      fail(t.file, "tensor " + quoted_for_message(t.name) + " has shape " + dims_text(t.shape) + " but the model's hyperparameters imply " + dims_text(*expect));
    if (!can_decode(t.dtype) && !(keeps_quantized(t.dtype) && !opt.outtype))
      fail(t.file, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which cannot be converted");
    if (*name == "output.weight") has_output = true;

    Planned p{i, *name, t.dtype, outtype, t.shape, model.naming == LlamaNaming::kHuggingFace ? rotary_role(*name) : RotaryRole::kNone,
              tensor_order(*name)};
    const bool is_weight_matrix = t.shape.size() == 2 && name->size() > 7 && name->substr(name->size() - 7) == ".weight";
    if (!is_weight_matrix) {
      if (dtype_is_quantized(t.dtype)) fail(t.file, "tensor " + quoted_for_message(t.name) + " is a vector stored as " + std::string(dtype_name(t.dtype)));
      p.to = DType::F32;  // norms and biases stay F32, as llama.cpp's converter keeps them
    } else if (dtype_is_quantized(outtype) && t.shape.back() % dtype_info(outtype).block_size != 0) {
      p.to = DType::F16;  // rows that are not whole blocks cannot be quantized
      notes.push_back("note: " + *name + " row length " + std::to_string(t.shape.back()) + " is not a multiple of 32; keeping it F16");
    } else if (!opt.outtype && keeps_quantized(t.dtype)) {
      p.to = t.dtype;  // already quantized: blocks copied as they are
    } else if (!opt.outtype && dtype_is_quantized(outtype)) {
      p.to = DType::F16;  // float tensors beside quantized ones (legacy files keep some F16/F32)
    } else if (outtype == DType::Q4_0 && opt.outtype && (*name == "output.weight" || (*name == "token_embd.weight" && c.tie_word_embeddings))) {
      p.to = DType::Q8_0;  // the output head is the most sensitive matrix: 8 bits, as llama.cpp's mixes do
    }
    total_bytes += t.nbytes;
    plan.push_back(std::move(p));
  }
  if (plan.empty()) fail(src_dir, "no tensors found");
  for (const char* required : {"token_embd.weight", "output_norm.weight"}) {
    if (std::none_of(plan.begin(), plan.end(), [&](const Planned& p) { return p.name == required; }))
      fail(src_dir, std::string("missing tensor for ") + required);
  }
  if (!has_output && !c.tie_word_embeddings)
    fail(src_dir, "no output head (lm_head.weight / output.weight) and the model does not tie it to the embeddings");
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    for (const auto& part : llama_layer_parts()) {
      const std::string n = "blk." + std::to_string(l) + "." + part + ".weight";
      if (std::none_of(plan.begin(), plan.end(), [&](const Planned& p) { return p.name == n; }))
        fail(src_dir, "missing tensor for " + n + " (the hyperparameters say " + std::to_string(c.num_hidden_layers) + " layers)");
    }
  }
  std::stable_sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) { return a.order < b.order; });

  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("general.type", GgufValue::str("model"));
  w.set("general.name", GgufValue::str(model.name.empty() ? std::filesystem::path(src_dir).filename().string() : model.name));
  w.set("llama.vocab_size", GgufValue::u32(c.vocab_size));
  w.set("llama.context_length", GgufValue::u32(c.max_position_embeddings));
  w.set("llama.embedding_length", GgufValue::u32(c.hidden_size));
  w.set("llama.block_count", GgufValue::u32(c.num_hidden_layers));
  w.set("llama.feed_forward_length", GgufValue::u32(c.intermediate_size));
  w.set("llama.rope.dimension_count", GgufValue::u32(c.head_dim));
  w.set("llama.attention.head_count", GgufValue::u32(c.num_attention_heads));
  if (c.has_num_key_value_heads) w.set("llama.attention.head_count_kv", GgufValue::u32(c.num_key_value_heads));
  if (c.has_rope_theta) w.set("llama.rope.freq_base", GgufValue::f32(c.rope_theta));
  w.set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps));
  if (c.has_head_dim) {
    w.set("llama.attention.key_length", GgufValue::u32(c.head_dim));
    w.set("llama.attention.value_length", GgufValue::u32(c.head_dim));
  }
  if (c.rope_scaling_linear) {
    w.set("llama.rope.scaling.type", GgufValue::str("linear"));
    w.set("llama.rope.scaling.factor", GgufValue::f32(*c.rope_scaling_linear));
  }
  w.set("general.file_type", GgufValue::u32(llama_file_type(outtype)));
  if (dtype_is_quantized(outtype)) w.set("general.quantization_version", GgufValue::u32(2));
  if (model.tokenizer_kvs.empty()) fail(src_dir, "no tokenizer found; a llama GGUF needs its vocabulary");
  for (const auto& kv : model.tokenizer_kvs) w.set(kv.key, kv.value);

  uint64_t done_bytes = 0;
  Progress bar(total_bytes, opt.quiet);
  for (const auto& n : notes) bar.log(n);
  for (const auto& p : plan) {
    const auto& src = sources[p.source_index];
    const uint64_t rows = p.shape.size() <= 1 ? 1 : src.numel() / p.shape.back();
    const uint64_t row_len = p.shape.empty() ? 1 : p.shape.back();
    const uint32_t heads = p.rotary == RotaryRole::kQuery ? c.num_attention_heads : c.num_key_value_heads;
    const uint64_t hd = c.head_dim;
    const std::string label = src.name;
    const bool permute = p.rotary != RotaryRole::kNone;
    const uint64_t perm_rows = p.shape.empty() ? 0 : p.shape.front();
    if (permute && (hd % 2 != 0 || perm_rows != uint64_t{heads} * hd))
      fail(src.file, "tensor " + quoted_for_message(src.name) + " cannot be split into " + std::to_string(heads) + " heads of " + std::to_string(hd));
    w.add_tensor(p.name, p.to, p.shape, [&, p, rows, row_len, hd, label, permute] {
      TensorBytes bytes = model.weights->read(p.source_index);
      if (!permute) return cast_rows(bytes, p.from, p.to, rows, row_len, {}, label);
      // Rotary rows are reordered; a 1-D bias has one element per row.
      const bool bias = p.shape.size() == 1;
      return cast_rows(bytes, p.from, p.to, bias ? p.shape[0] : rows, bias ? 1 : row_len,
                       [hd](uint64_t row) { return hf_row_for_gguf_row(row, hd); }, label);
    });
  }
  w.on_tensor([&](size_t i, size_t n, const std::string& tname) {
    const auto& p = plan[i];
    char line[256];
    std::snprintf(line, sizeof line, "[%3zu/%3zu] %-28s %-5s -> %-5s shape = %s", i + 1, n, tname.c_str(),
                  std::string(dtype_name(p.from)).c_str(), std::string(dtype_name(p.to)).c_str(), shape_text(p.shape).c_str());
    bar.log(line);
    if (i > 0) done_bytes += sources[plan[i - 1].source_index].nbytes;
    bar.update(done_bytes);
  });
  if (opt.output_fd >= 0)
    w.write_to_descriptor(opt.output_fd, dst);
  else
    w.write(dst, opt.overwrite);
  bar.finish();
  return make_report(dst, plan.size(), total_bytes, t0);
}

}  // namespace lmforge
