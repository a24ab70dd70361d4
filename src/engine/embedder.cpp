#include "engine/embedder.h"

#include <cmath>
#include <filesystem>
#include <utility>

#include "arch/bert/bert_config_gguf.h"

#include "core/error.h"
#include "engine/bert_model.h"
#include "engine/embedder_families.h"
#include "formats/detect/sniff.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

std::unique_ptr<Embedder> Embedder::open(const std::string& model_path, const EmbedderOptions& options) {
  if (is_bert_folder(model_path)) return make_bert_embedder(model_path, false, options);
  if (is_bert_gguf_file(model_path)) return make_bert_embedder(model_path, true, options);
  return make_llama_embedder(model_path, options);
}

std::unique_ptr<Embedder> Embedder::over_loaded_llama(const LlamaModel& model, std::shared_ptr<const Tokenizer> tokenizer, const std::string& model_path,
                                                      const EmbedderOptions& options) {
  return make_llama_embedder_borrowing(model, std::move(tokenizer), model_path, options);
}

bool is_bert_gguf_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || sniff_format(path) != FileFormat::kGguf) return false;
  return is_bert_gguf(*GgufReader::open(path));
}

void fail_too_long(const std::string& model, const std::string& source, size_t n, size_t max) {
  fail(model, source + " has " + std::to_string(n) + " tokens; the model takes at most " + std::to_string(max) +
                  " (truncating keeps the first " + std::to_string(max) + ")");
}

std::vector<std::vector<float>> Embedder::embed(std::span<const std::string> texts, std::span<const std::string> sources) {
  if (!sources.empty() && sources.size() != texts.size())
    throw Error(info_.path, "embed: " + std::to_string(sources.size()) + " source names for " +
                                std::to_string(texts.size()) + " texts");
  std::vector<std::vector<int32_t>> seqs;
  seqs.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    seqs.push_back(tokenize(texts[i], sources.empty() ? "text " + std::to_string(i + 1) : sources[i]));
  return embed_tokens(seqs);
}

std::vector<std::vector<float>> Embedder::embed_tokens(std::span<const std::vector<int32_t>> seqs) {
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i].empty()) fail(info_.path, "text " + std::to_string(i + 1) + " has no tokens to embed");
    if (seqs[i].size() > info_.max_tokens)
      fail_too_long(info_.path, "text " + std::to_string(i + 1), seqs[i].size(), info_.max_tokens);
  }
  const size_t dim = info_.dim;
  const std::vector<float> hidden = hidden_states(seqs, info_.pooling);
  std::vector<std::vector<float>> out(seqs.size());
  size_t row = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const bool all = info_.pooling == Pooling::Mean || info_.pooling == Pooling::None;
    const size_t rows = all ? seqs[i].size() : 1;
    pool_hidden_states(hidden.data() + row * dim, rows, dim, info_.pooling, info_.normalize, out[i]);
    row += rows;
  }
  return out;
}

namespace {

void l2_normalize(float* v, size_t dim) {
  double ss = 0;
  for (size_t j = 0; j < dim; ++j) ss += double{v[j]} * v[j];
  if (ss == 0) return;
  const double inv = 1.0 / std::sqrt(ss);
  for (size_t j = 0; j < dim; ++j) v[j] = static_cast<float>(v[j] * inv);
}

}  // namespace

void pool_hidden_states(const float* hidden, size_t tokens, size_t dim, Pooling pooling, bool normalize,
                        std::vector<float>& out) {
  if (pooling == Pooling::None) {
    out.assign(hidden, hidden + tokens * dim);
    if (normalize)
      for (size_t t = 0; t < tokens; ++t) l2_normalize(out.data() + t * dim, dim);
    return;
  }
  out.assign(dim, 0.0f);
  if (tokens == 0) return;
  if (pooling == Pooling::Mean) {
    std::vector<double> sum(dim, 0.0);
    for (size_t t = 0; t < tokens; ++t)
      for (size_t j = 0; j < dim; ++j) sum[j] += hidden[t * dim + j];
    for (size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(sum[j] / static_cast<double>(tokens));
  } else {
    const float* row = pooling == Pooling::Cls ? hidden : hidden + (tokens - 1) * dim;
    out.assign(row, row + dim);
  }
  if (normalize) l2_normalize(out.data(), dim);
}

}  // namespace lmforge
