#include "convert/sinks/gguf_sink.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "arch/llama/llama_config_gguf.h"
#include "arch/llama/llama_names.h"
#include "convert/gguf_type_policy.h"
#include "convert/nonfinite_scan.h"
#include "convert/tensor_cast.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_writer.h"

namespace lmforge {

namespace {

struct Planned {
  size_t source_index;
  std::string name;  // GGUF name
  DType from, to;
  std::vector<uint64_t> shape;
  RotaryRole rotary;
  LlamaFileOrder order;
};

std::string ggml_dims_text(const std::vector<uint64_t>& s) {  // innermost first, as ggml prints
  std::string t = "{";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[s.size() - 1 - i]);
  return t + "}";
}

// The llama tensor a source tensor is; nullopt for tensors that are dropped (rotary caches).
std::optional<LlamaTensorName> llama_name_of(const LlamaModelSource& m, const TensorInfo& t) {
  const LlamaSpelling spelling = spelling_of(m.naming);
  if (is_ignored_llama_tensor(t.name, spelling)) return std::nullopt;
  const auto n = parse_llama_tensor_name(t.name, spelling);
  // A GGUF source's names must also fit the config's layer count.
  if (n && (m.naming != LlamaNaming::kGguf || llama_tensor_shape(*n, m.config))) return n;
  fail(t.file.empty() ? m.path : t.file, "cannot map tensor " + quoted_for_message(t.name) + " to a llama GGUF tensor");
}

// `types` null: the --outtype policy (gguf_type_policy); else the caller's per-tensor types.
ConvertReport write_gguf(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt, const GgufTensorTypes* types) {
  const auto t0 = std::chrono::steady_clock::now();
  const LlamaConfig& c = model.config;
  const std::string& src_dir = model.path;
  const auto& sources = model.weights->tensors();
  if (types && opt.outtype) throw std::logic_error("write_llama_gguf: --outtype and per-tensor types together");
  if (opt.outtype && !can_encode(*opt.outtype)) throw UsageError("unsupported --outtype " + std::string(dtype_name(*opt.outtype)));
  // Without --outtype: F16 for float sources; a quantized source keeps its blocks.
  const DType outtype = gguf_file_type(sources, opt.outtype);
  const GgufTypePolicy policy{opt.outtype, outtype, c.tie_word_embeddings};
  std::vector<std::string> notes;
  for (const auto& w : model.warnings) notes.push_back("warning: " + w);

  // Plan every tensor before writing anything, so a bad tensor fails before any output.
  std::vector<Planned> plan;
  bool has_output = false;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& t = sources[i];
    const auto llama_name = llama_name_of(model, t);
    if (!llama_name) continue;
    const std::string name = *spell_llama_tensor(*llama_name, LlamaSpelling::kGguf);
    if (opt.provided_elsewhere.count(name)) continue;
    const auto expect = llama_tensor_shape(*llama_name, c);
    if (expect && *expect != t.shape)
      fail(t.file, "tensor " + quoted_for_message(t.name) + " has shape " + shape_text(t.shape) + " but the model's hyperparameters imply " + shape_text(*expect));
    const GgufTypeChoice type = types ? GgufTypeChoice{types->type_of(*llama_name, t), GgufTypeReason::kFileType}
                                      : gguf_tensor_type(policy, *llama_name, t);
    const bool copied = types ? type.type == t.dtype : gguf_keeps_quantized(t.dtype) && !opt.outtype;
    if (!can_decode(t.dtype) && !copied)
      fail(t.file, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) + ", which cannot be converted");
    if (types && !copied && !can_encode(type.type))
      throw UsageError(name + " would be " + std::string(dtype_name(type.type)) + ", which is not implemented yet");
    if (llama_name->id == LlamaTensor::kOutput && !llama_name->bias) has_output = true;

    if (type.reason == GgufTypeReason::kVectorF32 && dtype_is_quantized(t.dtype))
      fail(t.file, "tensor " + quoted_for_message(t.name) + " is a vector stored as " + std::string(dtype_name(t.dtype)));
    if (type.reason == GgufTypeReason::kPartialBlocksF16)
      notes.push_back("note: " + name + " row length " + std::to_string(t.shape.back()) + " is not a multiple of 32; keeping it F16");
    Planned p{i, name, t.dtype, type.type, t.shape,
              model.naming == LlamaNaming::kHuggingFace && !rope_neox(c) ? llama_tensor_row(llama_name->id).rotary : RotaryRole::kNone,
              llama_gguf_order(*llama_name)};
    total_bytes += t.nbytes;
    plan.push_back(std::move(p));
  }
  if (plan.empty()) fail(src_dir, "no tensors found");
  for (const LlamaTensor required : {LlamaTensor::kTokenEmbd, LlamaTensor::kOutputNorm}) {
    const std::string n = gguf_weight_name(required);
    if (std::none_of(plan.begin(), plan.end(), [&](const Planned& p) { return p.name == n; }))
      fail(src_dir, "missing tensor for " + n);
  }
  if (!has_output && !c.tie_word_embeddings)
    fail(src_dir, "no output head (lm_head.weight / output.weight) and the model does not tie it to the embeddings");
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    for (const auto& row : llama_tensor_table()) {
      if (!row.per_layer) continue;
      const std::string n = gguf_weight_name(row.id, l);
      if (!opt.provided_elsewhere.count(n) && std::none_of(plan.begin(), plan.end(), [&](const Planned& p) { return p.name == n; }))
        fail(src_dir, "missing tensor for " + n + " (the hyperparameters say " + std::to_string(c.num_hidden_layers) + " layers)");
    }
    // Qwen2's attention biases are part of the model: without them it computes something else.
    if (c.attention_bias)
      for (const LlamaTensor id : {LlamaTensor::kAttnQ, LlamaTensor::kAttnK, LlamaTensor::kAttnV}) {
        const std::string n = *spell_llama_tensor({id, l, true}, LlamaSpelling::kGguf);
        if (std::none_of(plan.begin(), plan.end(), [&](const Planned& p) { return p.name == n; }))
          fail(src_dir, "missing tensor for " + n + " (" + c.architecture + " has q/k/v biases)");
      }
  }
  std::stable_sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) { return a.order < b.order; });

  GgufWriter w;
  w.set("general.architecture", GgufValue::str(gguf_architecture(c)));
  w.set("general.type", GgufValue::str("model"));
  w.set("general.name", GgufValue::str(model.name.empty() ? std::filesystem::path(src_dir).filename().string() : model.name));
  for (auto& kv : llama_config_to_gguf(c)) w.set(kv.key, std::move(kv.value));
  w.set("general.file_type", GgufValue::u32(types ? types->file_type : llama_file_type(outtype)));
  const bool any_quantized = std::any_of(plan.begin(), plan.end(), [](const Planned& p) { return dtype_is_quantized(p.to); });
  if (types ? any_quantized : dtype_is_quantized(outtype)) w.set("general.quantization_version", GgufValue::u32(2));
  if (model.tokenizer_kvs.empty()) fail(src_dir, "no tokenizer found; a llama GGUF needs its vocabulary");
  for (const auto& kv : model.tokenizer_kvs) w.set(kv.key, kv.value);
  if (types)
    for (const auto& kv : types->extra_kvs) w.set(kv.key, kv.value);

  uint64_t done_bytes = 0;
  Progress bar(total_bytes, opt.quiet);
  for (const auto& n : notes) bar.log(n);
  // Llama 3 rope scaling: llama.cpp keeps the per-frequency divisors as a tensor ahead of the
  // weights (written from the config, so a GGUF source's copy is replaced by the same values).
  const bool rope_freqs = !c.rope_freq_factors.empty();
  if (rope_freqs) {
    if (c.rope_freq_factors.size() != c.head_dim / 2) throw std::logic_error("write_llama_gguf: rope factors of the wrong size");
    std::vector<uint8_t> bytes(c.rope_freq_factors.size() * sizeof(float));
    std::memcpy(bytes.data(), c.rope_freq_factors.data(), bytes.size());
    w.add_tensor(kRopeFreqsTensor, DType::F32, {c.rope_freq_factors.size()},
                 [bytes] { return TensorBytes(std::vector<uint8_t>(bytes)); });
  }
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
    const bool check_finite = types && types->reject_nonfinite;
    const std::vector<float>* weights = types && types->importance ? types->importance(p.name) : nullptr;
    if (weights && weights->size() != row_len) throw std::logic_error("write_llama_gguf: importance weights of the wrong size for " + p.name);
    const float* importance = weights ? weights->data() : nullptr;
    w.add_tensor(p.name, p.to, p.shape, [&, p, rows, row_len, hd, label, permute, check_finite, importance] {
      TensorBytes bytes = model.weights->read(p.source_index);
      if (check_finite) {
        if (const auto at = find_nonfinite_value(bytes, p.from, rows * row_len, row_len))
          fail(sources[p.source_index].file.empty() ? src_dir : sources[p.source_index].file,
               "tensor " + quoted_for_message(label) + " has a NaN or infinite value at element " + std::to_string(*at));
      }
      TensorBytes out;
      if (!permute) {
        out = cast_rows(bytes, p.from, p.to, rows, row_len, {}, label, opt.threads, importance);
      } else {  // rotary rows are reordered; a 1-D bias has one element per row
        const bool bias = p.shape.size() == 1;
        out = cast_rows(bytes, p.from, p.to, bias ? p.shape[0] : rows, bias ? 1 : row_len,
                        [hd](uint64_t row) { return hf_row_for_gguf_row(row, hd); }, label, opt.threads,
                        bias ? nullptr : importance);
      }
      if (types && types->after_tensor) {
        const std::string extra = types->after_tensor(p.name, p.to, out);
        if (!extra.empty()) bar.log(extra);
      }
      return out;
    });
  }
  w.on_tensor([&](size_t index, size_t n, const std::string& tname) {
    if (rope_freqs && index == 0) return;  // generated, not one of the source's tensors
    const size_t i = rope_freqs ? index - 1 : index;
    const auto& p = plan[i];
    if (types && types->line) {
      bar.log(types->line(i, n - (rope_freqs ? 1 : 0), tname));
    } else {
      char line[256];
      std::snprintf(line, sizeof line, "[%3zu/%3zu] %-28s %-5s -> %-5s shape = %s", i + 1, n - (rope_freqs ? 1 : 0), tname.c_str(),
                    std::string(dtype_name(p.from)).c_str(), std::string(dtype_name(p.to)).c_str(), ggml_dims_text(p.shape).c_str());
      bar.log(line);
    }
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

}  // namespace

ConvertReport write_llama_gguf(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt) {
  return write_gguf(model, dst, opt, nullptr);
}

ConvertReport write_llama_gguf(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt,
                               const GgufTensorTypes& types) {
  if (!types.type_of) throw std::logic_error("write_llama_gguf: no per-tensor type function");
  return write_gguf(model, dst, opt, &types);
}

}  // namespace lmforge
