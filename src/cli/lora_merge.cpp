#include "cli/lora_merge.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "arch/llama/llama_names.h"
#include "core/error.h"
#include "engine/lora_io.h"
#include "quant/type_traits.h"

namespace lmforge::cli {

namespace {

struct MergeTerm {
  const LoraPair* pair;
  float scale;
};

class MergedWeights final : public TensorSource {
 public:
  MergedWeights(std::unique_ptr<TensorSource> base, std::vector<std::shared_ptr<const LoraAdapter>> adapters,
                std::vector<std::vector<MergeTerm>> terms, std::vector<bool> hf_rows, uint32_t head_dim)
      : base_(std::move(base)), adapters_(std::move(adapters)), terms_(std::move(terms)), hf_rows_(std::move(hf_rows)),
        head_dim_(head_dim), tensors_(base_->tensors()) {
    for (size_t i = 0; i < tensors_.size(); ++i)
      if (!terms_[i].empty()) {
        tensors_[i].dtype = DType::F32;
        tensors_[i].nbytes = tensors_[i].numel() * sizeof(float);
      }
  }

  std::string format_description() const override { return base_->format_description() + " with LoRA merged"; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  nlohmann::json metadata() const override { return base_->metadata(); }
  std::vector<std::string> warnings() const override { return base_->warnings(); }

  TensorBytes read(size_t index) const override {
    if (terms_[index].empty()) return base_->read(index);
    const TensorInfo& in = base_->tensors()[index];
    const uint64_t rows = in.shape[0], cols = in.shape[1];
    const auto row_bytes = dtype_nbytes(in.dtype, cols);
    const TensorBytes src = base_->read(index);
    if (!row_bytes || src.size() != *row_bytes * rows) fail(in.file, "tensor " + in.name + " has the wrong size");
    std::vector<uint8_t> out(rows * cols * sizeof(float));
    float* f = reinterpret_cast<float*>(out.data());
    for (uint64_t r = 0; r < rows; ++r) {
      decode_row(in.dtype, src.data() + r * *row_bytes, f + r * cols, cols);
      // An adapter's rows are in GGUF order; a Hugging Face source's Q/K rows are not.
      const uint64_t pair_row = hf_rows_[index] ? gguf_row_for_hf_row(r, head_dim_) : r;
      for (const MergeTerm& t : terms_[index]) lora_merge_row(*t.pair, t.scale, pair_row, f + r * cols);
    }
    return TensorBytes(std::move(out));
  }

 private:
  std::unique_ptr<TensorSource> base_;
  std::vector<std::shared_ptr<const LoraAdapter>> adapters_;  // own what terms_ points to
  std::vector<std::vector<MergeTerm>> terms_;                 // per tensor
  std::vector<bool> hf_rows_;                                 // per tensor: Q/K rows in HF order
  uint32_t head_dim_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace

size_t merge_loras_into(LlamaModelSource& model, const std::vector<LoraRequest>& requests, bool quiet) {
  const LlamaConfig& c = model.config;
  std::vector<std::shared_ptr<const LoraAdapter>> adapters;
  std::vector<float> scales;
  for (const LoraRequest& r : requests) {
    adapters.push_back(std::make_shared<const LoraAdapter>(read_lora_adapter(r.path, c)));
    scales.push_back(r.scale * adapters.back()->base_scale());
  }
  const auto& tensors = model.weights->tensors();
  std::vector<std::vector<MergeTerm>> terms(tensors.size());
  std::vector<bool> hf_rows(tensors.size(), false);
  size_t merged = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto name = parse_llama_tensor_name(tensors[i].name, spelling_of(model.naming));
    if (!name || name->bias) continue;
    const auto gguf = spell_llama_tensor(*name, LlamaSpelling::kGguf);
    if (!gguf) continue;
    for (size_t a = 0; a < adapters.size(); ++a) {
      if (name->layer >= adapters[a]->layers.size()) continue;
      for (size_t t = 0; t < kLoraTargetCount; ++t) {
        const auto& pair = adapters[a]->layers[name->layer][t];
        if (!pair ||
            *gguf != "blk." + std::to_string(name->layer) + "." + lora_target_gguf_name(static_cast<LoraTarget>(t)) + ".weight")
          continue;
        const TensorInfo& info = tensors[i];
        if (info.shape != std::vector<uint64_t>{pair->out, pair->in})
          fail(model.path, "tensor " + info.name + " has shape " + shape_text(info.shape) + ", not the adapter's [" +
                               std::to_string(pair->out) + ", " + std::to_string(pair->in) + "]");
        if (!can_decode(info.dtype))
          fail(model.path, "tensor " + info.name + " has type " + std::string(dtype_name(info.dtype)) +
                               ", which cannot be decoded for merging");
        terms[i].push_back({&*pair, scales[a]});
        hf_rows[i] = model.naming == LlamaNaming::kHuggingFace && lora_target_rotary(static_cast<LoraTarget>(t), c);
      }
    }
    merged += !terms[i].empty();
  }
  size_t pairs = 0, matched = 0;
  for (const auto& a : adapters)
    for (const auto& layer : a->layers)
      for (const auto& p : layer) pairs += p.has_value();
  for (const auto& t : terms) matched += t.size();
  if (matched != pairs)
    fail(model.path, std::to_string(pairs - matched) + " of the adapters' " + std::to_string(pairs) +
                         " weights are not in the model");
  if (!quiet)
    for (size_t a = 0; a < adapters.size(); ++a)
      std::fprintf(stderr, "lmforge: merging LoRA %s (rank %u, scale %g)\n", requests[a].path.c_str(), adapters[a]->rank,
                   scales[a]);
  model.weights = std::make_unique<MergedWeights>(std::move(model.weights), std::move(adapters), std::move(terms),
                                                  std::move(hf_rows), c.head_dim);
  return merged;
}

}  // namespace lmforge::cli
