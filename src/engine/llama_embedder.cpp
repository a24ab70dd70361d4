// The LLaMA family behind Embedder: SentencePiece tokens (BOS first when the vocabulary adds
// it), the fast engine's final hidden states after the output norm (LlamaEngine::eval_hidden),
// many texts per batch as separate sequences of one KV cache. The model is loaded here, or
// borrowed from the caller (the server's generating model, so it is not loaded twice). LoRA
// adapters (options.loras) go to the engine, which adds them to the products they target.
#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "core/error.h"
#include "engine/embedder_families.h"
#include "engine/kv_cache.h"
#include "engine/llama_engine.h"
#include "engine/model_loader.h"
#include "tokenizer/tokenizer.h"

namespace lmforge {

namespace {

// Sequences per forward pass: enough to fill a batch with short texts, few enough that the
// cache's per-sequence bookkeeping stays small.
constexpr uint32_t kMaxSequencesPerPass = 64;

class LlamaEmbedder final : public Embedder {
 public:
  // Loads the model at `path` and owns it.
  LlamaEmbedder(const std::string& path, const EmbedderOptions& o)
      : owned_(load_model_for_inference(path)), model_(*owned_->model), tokenizer_(owned_->tokenizer) {
    init(path, o);
  }
  // Borrows a model loaded elsewhere (the weights are only read, so sharing them is safe).
  LlamaEmbedder(const LlamaModel& model, std::shared_ptr<const Tokenizer> tokenizer, const std::string& path,
                const EmbedderOptions& o)
      : model_(model), tokenizer_(std::move(tokenizer)) {
    init(path, o);
  }

  void init(const std::string& path, const EmbedderOptions& o) {
    options_ = o;
    const LlamaConfig& c = model_.config();
    info_.architecture = "llama";
    info_.path = path;
    info_.dim = c.hidden_size;
    info_.pooling = o.pooling.value_or(Pooling::Mean);
    info_.pooling_source = o.pooling ? "option" : "default for LLaMA-family models: mean";
    if (info_.pooling == Pooling::Cls)
      fail(path, "cls pooling takes the first token, which for a causal model is the same BOS state for every text; "
                 "use mean or last");
    info_.normalize = o.normalize;
    info_.max_tokens = c.max_position_embeddings;
    LlamaEngineOptions eo;
    eo.n_threads = o.n_threads;
    for (const EmbedderLora& l : o.loras)
      eo.loras.push_back({std::make_shared<const LoraAdapter>(read_lora_adapter(l.path, model_)), l.scale});
    engine_ = LlamaEngine::create(model_, eo);
  }

  std::vector<int32_t> tokenize(std::string_view text, const std::string& source) const override {
    std::vector<int32_t> ids = tokenizer_->encode(text, tokenizer_->add_bos(), false);
    if (ids.size() > info_.max_tokens) {
      if (!options_.truncate) fail_too_long(info_.path, source, ids.size(), info_.max_tokens);
      ids.resize(info_.max_tokens);
    }
    if (ids.empty()) fail(info_.path, source + " has no tokens to embed (empty text, and the model adds no BOS)");
    return ids;
  }

 protected:
  std::vector<float> hidden_states(std::span<const std::vector<int32_t>> seqs, Pooling pooling) override {
    const bool all = pooling == Pooling::Mean || pooling == Pooling::None;
    size_t longest = 0;
    for (const auto& s : seqs) longest = std::max(longest, s.size());
    const uint32_t cells = static_cast<uint32_t>(std::max(options_.batch_tokens, longest));
    if (!cache_ || cache_->n_cells() < cells)
      cache_ = std::make_unique<KvCache>(model_, cells, kMaxSequencesPerPass);
    std::vector<float> out;
    LlamaBatch batch;
    for (size_t s = 0; s < seqs.size();) {
      batch.clear();
      size_t e = s, n = 0;
      while (e < seqs.size() && e - s < kMaxSequencesPerPass && (e == s || n + seqs[e].size() <= cells))
        n += seqs[e++].size();
      for (size_t i = s; i < e; ++i) {
        const auto& ids = seqs[i];
        for (size_t p = 0; p < ids.size(); ++p)
          batch.add(ids[p], static_cast<int32_t>(p), static_cast<int32_t>(i - s), all || p + 1 == ids.size());
      }
      cache_->clear();
      const std::vector<float> rows = engine_->eval_hidden(*cache_, batch);
      out.insert(out.end(), rows.begin(), rows.end());
      s = e;
    }
    cache_->clear();
    return out;
  }

 private:
  std::optional<LoadedModel> owned_;  // empty when the model is borrowed
  const LlamaModel& model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<LlamaEngine> engine_;
  std::unique_ptr<KvCache> cache_;
};

}  // namespace

std::unique_ptr<Embedder> make_llama_embedder(const std::string& path, const EmbedderOptions& options) {
  return std::make_unique<LlamaEmbedder>(path, options);
}

std::unique_ptr<Embedder> make_llama_embedder_borrowing(const LlamaModel& model, std::shared_ptr<const Tokenizer> tokenizer,
                                                        const std::string& path, const EmbedderOptions& options) {
  return std::make_unique<LlamaEmbedder>(model, std::move(tokenizer), path, options);
}

}  // namespace lmforge
