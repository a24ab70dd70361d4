// The BERT family behind Embedder: WordPiece tokens wrapped as [CLS] ... [SEP], the encoder's
// last hidden states, pooling from the folder's sentence-transformers files (or a GGUF's
// bert.pooling_type).
#include <algorithm>

#include "arch/bert/bert_config_gguf.h"
#include "arch/bert/bert_pooling.h"
#include "formats/gguf/gguf_reader.h"
#include "tokenizer/wordpiece_gguf.h"
#include "core/error.h"
#include "engine/bert_encoder.h"
#include "engine/bert_model.h"
#include "engine/embedder_families.h"
#include "tokenizer/wordpiece_tokenizer.h"

namespace lmforge {

namespace {

// The model, its vocabulary and its pooling, from a folder or a GGUF file.
struct BertParts {
  std::unique_ptr<BertModel> model;
  WordPieceVocab vocab;
  BertPoolingChoice pooling;
};

BertParts open_parts(const std::string& path, bool gguf) {
  BertParts p;
  if (!gguf) {
    p.model = BertModel::open_folder(path);
    p.vocab = load_wordpiece_vocab(path);
    p.pooling = read_bert_pooling(path, p.model->config().hidden_size);
    return p;
  }
  p.model = BertModel::open_gguf(path);
  const auto g = GgufReader::open(path);
  p.vocab = wordpiece_vocab_from_gguf(*g, path);
  if (const auto pooling = bert_pooling_from_gguf(*g, path)) {
    p.pooling.pooling = *pooling;
    p.pooling.source = "bert.pooling_type";
  } else {
    p.pooling.source = "default: the GGUF has no bert.pooling_type, so mean pooling";
  }
  return p;
}

class BertEmbedder final : public Embedder {
 public:
  BertEmbedder(const std::string& path, bool gguf, const EmbedderOptions& o) : BertEmbedder(path, open_parts(path, gguf), o) {}

  BertEmbedder(const std::string& folder, BertParts parts, const EmbedderOptions& o)
      : model_(std::move(parts.model)), tokenizer_(std::move(parts.vocab)) {
    options_ = o;
    const BertConfig& c = model_->config();
    if (tokenizer_.size() > c.vocab_size)
      fail(folder, "the tokenizer has " + std::to_string(tokenizer_.size()) + " tokens but the model's embeddings only " +
                       std::to_string(c.vocab_size));
    const BertPoolingChoice& p = parts.pooling;
    info_.architecture = "bert";
    info_.path = folder;
    info_.dim = c.hidden_size;
    info_.pooling = o.pooling.value_or(p.pooling);
    info_.pooling_source = o.pooling ? "option" : p.source;
    info_.normalize = o.normalize;
    info_.max_tokens = std::min<size_t>(c.max_position_embeddings, tokenizer_.vocab().settings.model_max_length);
    if (info_.max_tokens < 2) fail(folder, "the model takes fewer than 2 tokens, no room for [CLS] and [SEP]");
    encoder_ = std::make_unique<BertEncoder>(*model_, o.n_threads, o.batch_tokens);
  }

  std::vector<int32_t> tokenize(std::string_view text, const std::string& source) const override {
    const std::vector<int32_t> ids = tokenizer_.encode(text);
    const size_t room = info_.max_tokens - 2;
    if (ids.size() > room && !options_.truncate) fail_too_long(info_.path, source, ids.size() + 2, info_.max_tokens);
    std::vector<int32_t> out;
    out.reserve(std::min(ids.size(), room) + 2);
    out.push_back(tokenizer_.vocab().cls_id);
    out.insert(out.end(), ids.begin(), ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), room)));
    out.push_back(tokenizer_.vocab().sep_id);
    return out;
  }

 protected:
  std::vector<float> hidden_states(std::span<const std::vector<int32_t>> seqs, Pooling pooling) override {
    std::vector<float> all = encoder_->encode(seqs);
    if (pooling == Pooling::Mean || pooling == Pooling::None) return all;
    const size_t dim = info_.dim;
    std::vector<float> picked(seqs.size() * dim);
    size_t row = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      const size_t r = row + (pooling == Pooling::Cls ? 0 : seqs[i].size() - 1);
      std::copy(all.begin() + r * dim, all.begin() + (r + 1) * dim, picked.begin() + i * dim);
      row += seqs[i].size();
    }
    return picked;
  }

 private:
  std::unique_ptr<BertModel> model_;
  WordPieceTokenizer tokenizer_;
  std::unique_ptr<BertEncoder> encoder_;
};

}  // namespace

std::unique_ptr<Embedder> make_bert_embedder(const std::string& path, bool gguf, const EmbedderOptions& options) {
  if (!options.loras.empty())
    fail(path, "LoRA adapters apply to LLaMA-family embedding models only; this is a BERT-family model");
  return std::make_unique<BertEmbedder>(path, gguf, options);
}

}  // namespace lmforge
