#include "cli/embedder_open.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/sha256.h"
#include "engine/embedder.h"
#include "retrieval/hashing_embedder.h"

namespace lmforge::cli {

namespace {

namespace fs = std::filesystem;

void hash_file(Sha256& h, const std::string& path) {
  const auto f = MappedFile::open(path);
  const auto b = f->bytes();
  h.update(b.data(), b.size());
}

// The files that decide a model's vectors: a file itself, or for a folder its weights, JSON
// settings and vocabulary (top level, plus the sentence-transformers modules' config.json one
// level down), by sorted relative name; a README or a training log does not change the model.
std::string model_sha256(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    Sha256 h;
    hash_file(h, path);
    return to_hex(h.finish());
  }
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), path);
    const std::string ext = rel.extension().string(), name = rel.filename().string();
    const bool top = rel.parent_path().empty();
    const bool wanted = top ? (ext == ".json" || ext == ".safetensors" || ext == ".bin" || ext == ".model" || name == "vocab.txt")
                            : (std::distance(rel.begin(), rel.end()) == 2 && name == "config.json");
    if (wanted) names.push_back(rel.generic_string());
  }
  std::sort(names.begin(), names.end());
  Sha256 h;
  for (const auto& n : names) {
    Sha256 one;
    hash_file(one, (fs::path(path) / n).string());
    h.update(n);
    h.update(std::string_view("\0", 1));
    h.update(to_hex(one.finish()));
  }
  return to_hex(h.finish());
}

// The model's hash alone without adapters (indexes made before adapters stay valid); with them,
// one hash over it and each adapter's files and scale, in command-line order.
std::string with_adapters_sha256(const std::string& model, const std::vector<LoraRequest>& loras) {
  if (loras.empty()) return model;
  Sha256 h;
  h.update(model);
  for (const LoraRequest& l : loras) {
    char scale[32];
    std::snprintf(scale, sizeof scale, "%.9g", static_cast<double>(l.scale));
    h.update(std::string_view("\0lora\0", 6));
    h.update(model_sha256(l.path));
    h.update(std::string_view("\0", 1));
    h.update(scale);
  }
  return to_hex(h.finish());
}

// A LLaMA- or BERT-family model (engine/embedder.h) as the index's embedder: normalized
// vectors, the model's own pooling, over-long chunks truncated to the model's limit (the index
// splits text by characters, which cannot promise a token count).
class ModelEmbedder final : public retrieval::Embedder {
 public:
  ModelEmbedder(const std::string& spec, const std::vector<LoraRequest>& loras) {
    EmbedderOptions o;
    o.truncate = true;
    for (const LoraRequest& l : loras) o.loras.push_back({l.path, l.scale});
    model_ = lmforge::Embedder::open(spec, o);
    const EmbeddingModelInfo& info = model_->info();
    if (info.pooling == Pooling::None)
      fail(spec, "the model pools nothing (pooling none): the index needs one vector per chunk");
    fp_.architecture = info.architecture;
    fp_.file_sha256 = with_adapters_sha256(model_sha256(spec), loras);
    fp_.pooling = pooling_name(info.pooling);
    fp_.dim = static_cast<uint32_t>(info.dim);
    fp_.spec = spec;
  }
  uint32_t dim() const override { return fp_.dim; }
  retrieval::EmbedderFingerprint fingerprint() const override { return fp_; }
  std::vector<std::vector<float>> embed(std::span<const std::string> texts) override { return model_->embed(texts); }

 private:
  std::unique_ptr<lmforge::Embedder> model_;
  retrieval::EmbedderFingerprint fp_;
};

}  // namespace

std::unique_ptr<retrieval::Embedder> open_embedder(const std::string& spec, const std::vector<LoraRequest>& loras) {
  if (auto dim = retrieval::parse_hashing_spec(spec)) {
    if (!loras.empty()) throw UsageError("--lora: the hashing embedder " + spec + " has no weights to adapt");
    return std::make_unique<retrieval::HashingEmbedder>(*dim);
  }
  return std::make_unique<ModelEmbedder>(spec, loras);
}

}  // namespace lmforge::cli
