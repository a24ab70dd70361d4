#include "generate/importance_matrix.h"

#include <chrono>
#include <cmath>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"
#include "engine/kv_cache.h"
#include "engine/llama_batch.h"
#include "engine/llama_engine.h"
#include "engine/llama_model.h"
#include "generate/perplexity.h"

namespace lmforge {

namespace {

// Sums the squared inputs of the recorded products into an ImatrixData.
class SquaredActivations final : public ActivationObserver {
 public:
  SquaredActivations(ImatrixData& data, bool process_output, std::string model_path)
      : data_(data), process_output_(process_output), model_path_(std::move(model_path)) {}

  void observe(const std::string& weight, const float* x, size_t ld, size_t n, size_t cols) override {
    if (!(std::string_view(weight).starts_with("blk.") || (process_output_ && weight == "output.weight"))) return;
    ImatrixEntry& e = data_.entries[weight];
    if (e.sums.empty()) {
      e.sums.assign(cols, 0.0f);
      e.counts.assign(1, 0);
    }
    if (e.sums.size() != cols) throw std::logic_error("imatrix: " + weight + " seen with two input widths");
    float* acc = e.sums.data();
    for (size_t r = 0; r < n; ++r) {
      const float* row = x + r * ld;
      for (size_t j = 0; j < cols; ++j) acc[j] += row[j] * row[j];
    }
    e.counts[0] += static_cast<int64_t>(n);
    for (size_t j = 0; j < cols; ++j)
      if (!std::isfinite(acc[j])) fail(model_path_, "the activations entering " + weight + " are not finite (NaN or infinite values)");
  }

 private:
  ImatrixData& data_;
  bool process_output_;
  std::string model_path_;
};

}  // namespace

size_t imatrix_chunks(size_t n_tokens, uint32_t n_ctx, int64_t max_chunks) {
  if (n_ctx < 16) throw UsageError("imatrix: -c must be at least 16, got " + std::to_string(n_ctx));
  if (n_tokens < 2 * static_cast<size_t>(n_ctx))
    throw UsageError("imatrix: the text has " + std::to_string(n_tokens) + " tokens; a context of " + std::to_string(n_ctx) +
                     " needs at least " + std::to_string(2 * static_cast<size_t>(n_ctx)) + " (as llama-imatrix); use a longer text or a smaller -c");
  const size_t all = n_tokens / n_ctx;
  return max_chunks < 0 ? all : std::min(all, static_cast<size_t>(max_chunks));
}

ImatrixResult compute_importance_matrix(const LlamaModel& model, std::span<const int32_t> tokens, int32_t bos_id,
                                        const ImatrixOptions& o, const std::function<void(const ImatrixChunk&)>& on_chunk) {
  ImatrixResult result;
  result.n_tokens = tokens.size();
  result.n_chunks = imatrix_chunks(tokens.size(), o.n_ctx, o.max_chunks);
  if (result.n_chunks == 0) throw UsageError("imatrix: --chunks 0 leaves nothing to compute");
  ImatrixData& data = result.data;
  data.chunk_size = o.n_ctx;
  if (!o.dataset.empty()) data.datasets.push_back(o.dataset);

  LlamaEngineOptions eo;
  eo.n_threads = o.n_threads ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
  eo.n_batch = std::min<uint32_t>(o.n_ctx, 512);
  const auto engine = LlamaEngine::create(model, eo);
  SquaredActivations observer(data, o.process_output, model.path());
  engine->set_observer(&observer);
  KvCache cache(model, o.n_ctx);

  const uint32_t first = o.n_ctx / 2;  // the scored half, as perplexity
  const size_t n_vocab = model.n_vocab();
  NllAccumulator acc;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t c = 0; c < result.n_chunks; ++c) {
    LlamaBatch batch;
    for (uint32_t k = 0; k < o.n_ctx; ++k) {
      int32_t t = tokens[c * o.n_ctx + k];
      if (k == 0 && bos_id >= 0) t = bos_id;
      // Logits where perplexity scores them; every position when the head is recorded too.
      batch.add(t, static_cast<int32_t>(k), 0, o.process_output || (k >= first && k + 1 < o.n_ctx));
    }
    cache.clear();
    const std::vector<float> logits = engine->eval(cache, batch);
    size_t row = 0;
    for (uint32_t k = 0; k < o.n_ctx; ++k) {
      if (!batch.logits[k]) continue;
      if (k >= first && k + 1 < o.n_ctx)
        acc.add(token_nll(std::span<const float>(logits.data() + row * n_vocab, n_vocab), batch.token[k + 1]));
      ++row;
    }
    data.chunk_count = static_cast<uint32_t>(c + 1);
    if (on_chunk)
      on_chunk({c, result.n_chunks, acc.ppl(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()});
  }
  result.ppl = acc.ppl();
  result.ppl_error = acc.ppl_error();
  return result;
}

}  // namespace lmforge
