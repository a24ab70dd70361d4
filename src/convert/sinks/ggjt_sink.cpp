#include "convert/sinks/ggjt_sink.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "convert/tensor_cast.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/text_checks.h"
#include "arch/llama/llama_names.h"
#include "formats/ggml_legacy/ggjt_writer.h"
#include "formats/ggml_legacy/ggml_legacy_format.h"

namespace lmforge {

namespace {

using namespace ggml_legacy;

// Meta's own state-dict order of a layer (attention, feed-forward, then the two norms), which
// the old converters kept: the Meta order column of the llama table.
const std::vector<LlamaTensor>& meta_layer_order() {
  static const std::vector<LlamaTensor> order = [] {
    std::vector<const LlamaTensorRow*> rows;
    for (const auto& r : llama_tensor_table())
      if (r.per_layer) rows.push_back(&r);
    std::sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) { return a->meta_order < b->meta_order; });
    std::vector<LlamaTensor> ids;
    for (const auto* r : rows) ids.push_back(r->id);
    return ids;
  }();
  return order;
}

struct Planned {
  std::string meta;        // name written
  size_t source_index = 0;
  DType from = DType::F32, to = DType::F32;
  std::vector<uint64_t> shape;
  bool hf_rotary = false;  // Q/K rows in rotate_half order: reordered to adjacent pairs
};

const GgufValue* find_kv(const std::vector<GgufKv>& kvs, const std::string& key) {
  for (const auto& kv : kvs)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

}  // namespace

ConvertReport write_ggjt_v3(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const LlamaConfig& c = model.config;
  const std::string& src = model.path;
  if (opt.outtype && !ggjt_v3_holds(*opt.outtype))
    throw UsageError("ggjt v3 holds F32, F16, Q4_0, Q4_1 and Q8_0 tensors; --outtype " + std::string(dtype_name(*opt.outtype)) + " is not one of them");
  std::vector<std::string> notes;
  for (const auto& w : model.warnings) notes.push_back("warning: " + w);

  // Hyperparameters: the header has no head_dim, n_ff, n_head_kv, eps or rope base.
  if (c.num_attention_heads == 0 || c.head_dim * c.num_attention_heads != c.hidden_size)
    fail(src, "head_dim " + std::to_string(c.head_dim) + " x " + std::to_string(c.num_attention_heads) + " heads is not n_embd " + std::to_string(c.hidden_size) + "; ggjt cannot describe such a model");
  const auto n_mult = n_mult_for(c.hidden_size, c.intermediate_size);
  if (!n_mult) fail(src, "n_ff " + std::to_string(c.intermediate_size) + " cannot be written as an n_mult for n_embd " + std::to_string(c.hidden_size) + " (it is below 8 * n_embd / 3)");
  if (c.num_key_value_heads != 0 && c.num_key_value_heads != c.num_attention_heads)
    notes.push_back("warning: ggjt has no field for " + std::to_string(c.num_key_value_heads) + " KV heads; old llama.cpp needs -gqa " + std::to_string(c.num_attention_heads / c.num_key_value_heads));
  if (c.rope_theta != 10000.0f) notes.push_back("warning: rope base " + std::to_string(c.rope_theta) + " is not stored in ggjt (old llama.cpp: --rope-freq-base)");
  if (c.rope_scaling_linear) notes.push_back("warning: linear rope scaling is not stored in ggjt");
  // What ggjt cannot hold and old llama.cpp would silently compute without: refuse.
  if (!c.rope_freq_factors.empty()) fail(src, "ggjt cannot hold Llama 3 rope scaling (per-frequency rope factors)");
  if (c.attention_bias || gguf_architecture(c) != std::string("llama"))
    fail(src, c.architecture + " (attention biases) cannot be written as ggjt, which holds llamas only");
  notes.push_back("note: rms_norm_eps " + std::to_string(c.rms_norm_eps) + " and context length are not stored in ggjt");

  // Vocabulary.
  const GgufValue* tokens = find_kv(model.tokenizer_kvs, "tokenizer.ggml.tokens");
  const GgufValue* scores = find_kv(model.tokenizer_kvs, "tokenizer.ggml.scores");
  const GgufValue* types = find_kv(model.tokenizer_kvs, "tokenizer.ggml.token_type");
  if (!tokens || tokens->type != GgufType::ARRAY || tokens->array_type != GgufType::STRING)
    fail(src, "no token list; a ggjt file needs the vocabulary");
  const size_t n_vocab = tokens->array.size();
  if (n_vocab != c.vocab_size)
    fail(src, "the token list has " + std::to_string(n_vocab) + " entries but vocab_size is " + std::to_string(c.vocab_size));
  if (scores && scores->array.size() != n_vocab) fail(src, "tokenizer.ggml.scores is not as long as the token list");
  if (types && types->array.size() != n_vocab) fail(src, "tokenizer.ggml.token_type is not as long as the token list");

  // Tensors, by Meta name.
  const auto& sources = model.weights->tensors();
  std::map<std::string, Planned> by_name;
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& t = sources[i];
    std::optional<std::string> gguf;
    switch (model.naming) {
      case LlamaNaming::kMeta:
        if (is_ignored_meta_tensor(t.name)) continue;
        gguf = meta_to_gguf_name(t.name);
        break;
      case LlamaNaming::kGguf:
        if (t.name == "rope_freqs.weight") continue;
        gguf = t.name;
        break;
      case LlamaNaming::kHuggingFace:
        if (is_ignored_hf_tensor(t.name)) continue;
        gguf = hf_to_gguf_name(t.name);
        break;
    }
    const auto meta = gguf ? gguf_to_meta_name(*gguf) : std::nullopt;
    if (!meta) fail(t.file.empty() ? src : t.file, "tensor " + quoted_for_message(t.name) + " has no place in a ggjt llama file");
    const auto expect = llama_tensor_shape(*gguf, c);
    if (!expect || *expect != t.shape)
      fail(t.file.empty() ? src : t.file, "tensor " + quoted_for_message(t.name) + " has shape " + shape_text(t.shape) + " but the model's hyperparameters imply " + (expect ? shape_text(*expect) : "none"));
    Planned p;
    p.meta = *meta;
    p.source_index = i;
    p.from = t.dtype;
    p.shape = t.shape;
    p.hf_rotary = model.naming == LlamaNaming::kHuggingFace && rotary_role(*gguf) != RotaryRole::kNone;
    if (t.shape.size() != 2) {
      p.to = DType::F32;  // norms: llama.cpp's ggjt loader wants F32 vectors
    } else if (opt.outtype) {
      p.to = *opt.outtype;
    } else if (ggjt_v3_holds(t.dtype)) {
      p.to = t.dtype;
    } else {
      p.to = DType::F16;
    }
    if (dtype_is_quantized(p.to) && t.shape.back() % dtype_info(p.to).block_size != 0) {
      notes.push_back("note: " + p.meta + " row length " + std::to_string(t.shape.back()) + " is not a multiple of 32; writing it F16");
      p.to = DType::F16;
    }
    if (p.from != p.to && (!can_decode(p.from) || !can_encode(p.to)))
      fail(t.file.empty() ? src : t.file, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(p.from)) + ", which cannot be written to ggjt as " + std::string(dtype_name(p.to)));
    if (!by_name.emplace(p.meta, p).second) fail(src, "two tensors map to " + p.meta);
  }

  std::vector<Planned> plan;
  auto take = [&](const std::string& name) {
    auto it = by_name.find(name);
    if (it == by_name.end()) fail(src, "missing tensor " + name);
    plan.push_back(it->second);
    by_name.erase(it);
  };
  // Globals in Meta's order (embedding, norm, head), then each layer.
  const auto meta = [](LlamaTensor id) { return *spell_llama_tensor({id, 0, false}, LlamaSpelling::kMeta); };
  take(meta(LlamaTensor::kTokenEmbd));
  take(meta(LlamaTensor::kOutputNorm));
  if (by_name.count(meta(LlamaTensor::kOutput))) {
    take(meta(LlamaTensor::kOutput));
  } else if (c.tie_word_embeddings) {
    Planned out = plan.front();  // ggjt has no tying: the embedding is written again as the head
    out.meta = meta(LlamaTensor::kOutput);
    plan.push_back(out);
  } else {
    fail(src, "missing tensor output.weight");
  }
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l)
    for (const LlamaTensor id : meta_layer_order()) take(*spell_llama_tensor({id, l, false}, LlamaSpelling::kMeta));
  if (!by_name.empty()) fail(src, "tensor " + by_name.begin()->first + " belongs to no layer of the " + std::to_string(c.num_hidden_layers) + " the hyperparameters give");

  std::map<DType, uint64_t> weight_elements;
  uint64_t total_bytes = 0;
  for (const auto& p : plan) {
    if (p.shape.size() == 2) weight_elements[p.to] += sources[p.source_index].numel();
    total_bytes += sources[p.source_index].nbytes;
  }
  const DType main_type = std::max_element(weight_elements.begin(), weight_elements.end(),
                                           [](const auto& a, const auto& b) { return a.second < b.second; })->first;

  Hparams hp;
  hp.n_vocab = static_cast<int32_t>(c.vocab_size);
  hp.n_embd = static_cast<int32_t>(c.hidden_size);
  hp.n_mult = static_cast<int32_t>(*n_mult);
  hp.n_head = static_cast<int32_t>(c.num_attention_heads);
  hp.n_layer = static_cast<int32_t>(c.num_hidden_layers);
  hp.n_rot = static_cast<int32_t>(c.head_dim);
  hp.ftype = ggjt_ftype_of(main_type);
  std::vector<GgjtVocabEntry> vocab(n_vocab);
  for (size_t i = 0; i < n_vocab; ++i) {
    const int32_t type = types ? static_cast<int32_t>(types->array[i].i) : kNormal;
    vocab[i].text = legacy_text_for_piece(tokens->array[i].s, type);
    vocab[i].score = scores ? static_cast<float>(scores->array[i].f) : 0.0f;
  }

  // An existing destination is refused before the notes are printed, as it always was.
  check_output_path(dst, opt.overwrite);
  Progress bar(total_bytes, opt.quiet);
  for (const auto& n : notes) bar.log(n);
  uint64_t done = 0;
  std::vector<GgjtTensor> records;
  for (size_t k = 0; k < plan.size(); ++k) {
    const auto& p = plan[k];
    GgjtTensor r;
    r.name = p.meta;
    r.type = p.to;
    r.shape = p.shape;
    r.produce = [&, k, p] {
      const auto& t = sources[p.source_index];
      char line[256];
      std::snprintf(line, sizeof line, "[%3zu/%3zu] %-32s %-5s -> %-5s", k + 1, plan.size(), p.meta.c_str(),
                    std::string(dtype_name(p.from)).c_str(), std::string(dtype_name(p.to)).c_str());
      bar.log(line);
      const uint64_t row_len = p.shape.back();
      const uint64_t rows = t.numel() / row_len;
      const uint64_t hd = c.head_dim;
      TensorBytes bytes = model.weights->read(p.source_index);
      if (p.hf_rotary)
        bytes = cast_rows(bytes, p.from, p.to, rows, row_len, [hd](uint64_t r) { return hf_row_for_gguf_row(r, hd); }, t.name);
      else
        bytes = cast_rows(bytes, p.from, p.to, rows, row_len, {}, t.name);
      done += t.nbytes;
      bar.update(done);
      return bytes;
    };
    records.push_back(std::move(r));
  }
  write_ggjt_v3_file(dst, opt.overwrite, hp, vocab, records);
  bar.finish();
  return make_report(dst, plan.size(), total_bytes, t0);
}

}  // namespace lmforge
