#include "convert/sources/gptq_llama_source.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "arch/llama/llama_names.h"
#include "convert/gguf_vocab.h"
#include "convert/sources/hf_llama_source.h"
#include "core/error.h"
#include "core/half.h"
#include "core/text_checks.h"
#include "formats/gptq_linear.h"
#include "quant/ggml_blocks.h"

namespace lmforge {

namespace {

constexpr size_t kQ4_1BlockBytes = 20;  // fp16 d, fp16 m, 16 bytes of nibble pairs

std::string hf_module(LlamaTensor id, uint32_t layer) {
  const std::string w = *spell_llama_tensor({id, layer, false}, LlamaSpelling::kHuggingFace);
  return w.substr(0, w.size() - std::string(".weight").size());
}

std::vector<uint8_t> q4_1_rows(const GptqMatrix& m, uint64_t group_size) {
  const uint64_t nb = m.in / kQK;
  std::vector<uint8_t> out(m.out * nb * kQ4_1BlockBytes);
  for (uint64_t r = 0; r < m.out; ++r) {
    for (uint64_t b = 0; b < nb; ++b) {
      uint8_t* blk = out.data() + (r * nb + b) * kQ4_1BlockBytes;
      const uint32_t g = static_cast<uint32_t>(b * kQK / group_size);
      const float s = m.scale(g, r);
      const uint16_t d = fp32_to_fp16(s), mn = fp32_to_fp16(-fp16_to_fp32(d) * static_cast<float>(m.zero(g, r)));
      std::memcpy(blk, &d, 2);
      std::memcpy(blk + 2, &mn, 2);
      for (size_t j = 0; j < kQK / 2; ++j)
        blk[4 + j] = static_cast<uint8_t>(m.code(r, b * kQK + j) | (m.code(r, b * kQK + j + kQK / 2) << 4));
    }
  }
  return out;
}

// The folder's tensors with every GPTQ linear replaced by its weight (Q4_1 or F32).
class GptqWeightSource final : public TensorSource {
 public:
  explicit GptqWeightSource(std::shared_ptr<const GptqLlamaFolder> f) : f_(std::move(f)) {
    const auto& raw = f_->raw->tensors();
    for (size_t i = 0; i < raw.size(); ++i) {
      const TensorInfo& t = raw[i];
      const auto module = gptq_tensor_module(t.name);
      if (!module) {
        if (raw_linear_bias(t.name)) continue;  // an all-zero bias, checked with its linear
        entries_.push_back({i, {}, 0, 0, false});
        infos_.push_back(t);
        continue;
      }
      if (t.name != *module + ".qweight") continue;  // one entry per linear
      const auto gguf = hf_to_gguf_name(*module + ".weight");
      const auto shape = gguf ? llama_tensor_shape(*gguf, f_->config) : std::nullopt;
      if (!shape || shape->size() != 2) fail(t.file.empty() ? f_->dir : t.file, "GPTQ linear '" + *module + "' is not a llama weight matrix");
      const uint64_t out = (*shape)[0], in = (*shape)[1];
      const bool q41 = exact_q4_1(*module, in);
      TensorInfo w;
      w.name = *module + ".weight";
      w.dtype = q41 ? DType::Q4_1 : DType::F32;
      w.shape = {out, in};
      w.nbytes = q41 ? out * (in / kQK) * kQ4_1BlockBytes : out * in * 4;
      w.file = t.file;
      w.offset = t.offset;
      entries_.push_back({i, *module, out, in, q41});
      infos_.push_back(std::move(w));
    }
  }

  std::string format_description() const override { return "GPTQ checkpoint (" + f_->raw->format_description() + ")"; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  std::vector<std::string> warnings() const override { return f_->raw->warnings(); }

  TensorBytes read(size_t index) const override {
    const Entry& e = entries_.at(index);
    if (e.module.empty()) return f_->raw->read(e.raw_index);
    const GptqMatrix m = read_gptq_linear(*f_->raw, e.module, e.out, e.in, f_->gptq, f_->dir);
    if (e.q4_1) return TensorBytes(q4_1_rows(m, f_->gptq.group_size_for(e.in)));
    std::vector<uint8_t> bytes(e.out * e.in * 4);
    std::vector<float> row(e.in);
    for (uint64_t r = 0; r < e.out; ++r) {
      m.dequantize_row(r, row.data());
      std::memcpy(bytes.data() + r * e.in * 4, row.data(), e.in * 4);
    }
    return TensorBytes(std::move(bytes));
  }

 private:
  struct Entry {
    size_t raw_index;
    std::string module;  // empty: a tensor passed through
    uint64_t out, in;
    bool q4_1;
  };

  bool raw_linear_bias(const std::string& name) const {
    const std::string s = ".bias";
    if (name.size() <= s.size() || name.compare(name.size() - s.size(), s.size(), s) != 0) return false;
    return has_gptq_linear(*f_->raw, name.substr(0, name.size() - s.size()));
  }

  // Q4_1 needs the groups in input order: asks g_idx (K integers) without decoding the rest.
  bool exact_q4_1(const std::string& module, uint64_t in) const {
    const uint64_t gs = f_->gptq.group_size_for(in);
    if (f_->gptq.bits != 4 || gs % kQK != 0 || in % kQK != 0) return false;
    const ptrdiff_t ig = f_->raw->find(module + ".g_idx");
    if (ig < 0) return true;
    const TensorInfo& t = f_->raw->tensors()[static_cast<size_t>(ig)];
    if (t.dtype != DType::I32 || t.shape != std::vector<uint64_t>{in}) return false;  // the reader says what is wrong
    const TensorBytes b = f_->raw->read(static_cast<size_t>(ig));
    if (b.size() != in * 4) return false;
    for (uint64_t k = 0; k < in; ++k) {
      int32_t g;
      std::memcpy(&g, b.data() + k * 4, 4);
      if (static_cast<uint64_t>(g) != k / gs) return false;
    }
    return true;
  }

  std::shared_ptr<const GptqLlamaFolder> f_;
  std::vector<Entry> entries_;
  std::vector<TensorInfo> infos_;
};

// The folder view of an opened llama folder (takes its weights).
std::shared_ptr<const GptqLlamaFolder> folder_view(const std::string& dir, LlamaHfFolder& hf) {
  const auto cfg = read_gptq_config(dir, &hf.files.config_json);
  if (!cfg) fail(dir, "no GPTQ settings (quantize_config.json, quant_config.json or quantization_config in config.json)");
  // The GPTQ linears are regrouped into llama's pair order; a qwen2 keeps rotate_half order
  // and its biases, which this path does not carry.
  if (hf.config.attention_bias) fail(dir, "GPTQ folders of " + hf.config.architecture + " (attention biases) are not supported");
  auto f = std::make_shared<GptqLlamaFolder>();
  f->dir = dir;
  f->gptq = *cfg;
  f->config = hf.config;
  f->raw = std::shared_ptr<const TensorSource>(std::move(hf.files.weights));
  return f;
}

}  // namespace

bool GptqLlamaFolder::quantized(LlamaTensor id, uint32_t layer) const { return has_gptq_linear(*raw, hf_module(id, layer)); }

GptqMatrix GptqLlamaFolder::linear(LlamaTensor id, uint32_t layer) const {
  const LlamaTensorName name{id, layer, false};
  const auto shape = llama_tensor_shape(name, config);
  if (!shape || shape->size() != 2) fail(dir, "no llama weight matrix " + hf_module(id, layer));
  GptqMatrix m = read_gptq_linear(*raw, hf_module(id, layer), (*shape)[0], (*shape)[1], gptq, dir);
  if (llama_tensor_row(id).rotary != RotaryRole::kNone) {
    const uint64_t hd = config.head_dim;
    m.reorder_outputs([hd](uint64_t r) { return hf_row_for_gguf_row(r, hd); });
  }
  return m;
}

std::string GptqLlamaFolder::summary() const {
  std::string s = std::to_string(gptq.bits) + "-bit, group size " +
                  (gptq.group_size < 0 ? std::string("-1 (one group per row)") : std::to_string(gptq.group_size));
  s += gptq.desc_act ? ", act-order (desc_act)" : ", no act-order";
  s += gptq.sym ? ", sym" : ", asym";
  if (gptq.static_groups) s += ", static groups";
  s += ", " + gptq.checkpoint_format + (gptq.v2 ? " (zero points stored as is)" : " (v1: zero points stored minus one)");
  return s;
}

bool is_gptq_folder(const std::string& dir) {
  try {
    return read_gptq_config(dir).has_value();
  } catch (const Error&) {
    return true;  // a GPTQ config lmforge refuses: opening it says why
  }
}

std::shared_ptr<const GptqLlamaFolder> open_gptq_llama_folder(const std::string& dir) {
  LlamaHfFolder hf = open_llama_hf_folder(dir);
  return folder_view(dir, hf);
}

LlamaModelSource llama_source_from_gptq_folder(const std::string& dir, std::shared_ptr<const GptqLlamaFolder>* folder_out) {
  LlamaHfFolder hf = open_llama_hf_folder(dir);
  std::shared_ptr<const GptqLlamaFolder> f = folder_view(dir, hf);
  LlamaModelSource m;
  m.path = dir;
  m.description = "GPTQ checkpoint folder (" + f->summary() + ")";
  m.config = hf.config;
  m.naming = LlamaNaming::kHuggingFace;
  m.name = folder_model_name(dir, hf.files.config_json);
  m.tokenizer_kvs = gguf_vocab_from_hf(hf.files, hf.config, hf.config.vocab_size);
  m.spm = hf.files.tokenizer;
  // The folder reader does not know the GPTQ settings file; it was read here, so it is not unused.
  const std::string settings_file = "unused file " + quoted_for_message(std::filesystem::path(f->gptq.file).filename().string());
  for (const auto& w : hf.files.warnings)
    if (w != settings_file) m.warnings.push_back(w);
  m.weights = std::make_unique<GptqWeightSource>(f);
  if (folder_out) *folder_out = f;
  return m;
}

}  // namespace lmforge
