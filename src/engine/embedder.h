// Text to embedding vectors, one API for both model families (what `lmforge embed` and the
// index/retrieval code call):
//  - BERT family: a Hugging Face folder with config.json model_type "bert" (WordPiece
//    tokenizer, [CLS] ... [SEP], BertEncoder); pooling from the sentence-transformers files
//    (arch/bert/bert_pooling.h), mean when the folder has none; or the GGUF `convert` writes
//    from such a folder (pooling from bert.pooling_type, mean when absent);
//  - LLaMA family: anything lmforge runs (GGUF, HF/Meta folder, ...): the final hidden state
//    after the last norm (LlamaEngine::eval_hidden), BOS first when the vocabulary adds it;
//    mean pooling by default, `last` for the older LlamaCppEmbeddings behaviour (and what
//    llama.cpp returns for a llama GGUF without pooling_type).
// Then pooling (mean over every token the model was fed, [CLS]/[SEP] and BOS included, as
// sentence-transformers and llama.cpp do; cls = the first token; last = the last) and, by
// default, L2 normalisation (a zero vector stays zero).
//
// Texts are embedded together: many per forward pass (whole texts, up to batch_tokens tokens),
// split over threads. A text longer than the model takes is an error naming it, or with
// `truncate` is cut to the first max_tokens() tokens (BERT keeps its final [SEP]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "arch/pooling.h"

namespace lmforge {

class LlamaModel;
class Tokenizer;

// A LoRA adapter (a GGUF adapter file or a PEFT folder, engine/lora_adapter.h) and its
// --lora-scale, for a LLaMA-family embedder.
struct EmbedderLora {
  std::string path;
  float scale = 1.0f;
};

struct EmbedderOptions {
  uint32_t n_threads = 0;          // 0: one per available core
  std::optional<Pooling> pooling;  // nullopt: the model's own (see above)
  bool normalize = true;           // L2-normalise each pooled vector (each token's with none)
  bool truncate = false;           // cut over-long texts instead of refusing them
  size_t batch_tokens = 2048;      // most tokens computed in one forward pass
  // Adapters added to every product they target (LLaMA family: read against the model and
  // applied by its engine as `run --lora` does); a BERT-family model refuses them.
  std::vector<EmbedderLora> loras;
};

struct EmbeddingModelInfo {
  std::string architecture;    // "bert" or "llama"
  std::string path;            // as given to open()
  size_t dim = 0;              // floats per vector (the hidden size)
  Pooling pooling = Pooling::Mean;
  std::string pooling_source;  // where the pooling came from ("1_Pooling/config.json", "default: ...", "option")
  bool normalize = true;
  size_t max_tokens = 0;       // most tokens one text may have, special tokens included
};

class Embedder {
 public:
  // Opens any model lmforge can embed with. Throws lmforge::Error naming the file when the
  // model cannot embed (another architecture, missing or bad files, ...).
  static std::unique_ptr<Embedder> open(const std::string& model_path, const EmbedderOptions& options = {});
  // A LLaMA-family Embedder over a model that is already loaded (the one `lmforge serve`
  // generates with): it borrows the weights (which must outlive it) and shares the tokenizer, instead
  // of loading `model_path` a second time. `model_path` only names the model in info() and
  // errors. Embedding runs its own engine and KV cache, so it may run beside other engines on
  // the same (read-only) weights.
  static std::unique_ptr<Embedder> over_loaded_llama(const LlamaModel& model, std::shared_ptr<const Tokenizer> tokenizer, const std::string& model_path,
                                                     const EmbedderOptions& options = {});
  virtual ~Embedder() = default;

  const EmbeddingModelInfo& info() const { return info_; }

  // The ids the model is fed for `text`: [CLS] ... [SEP] (BERT), BOS ... (LLaMA, when its
  // vocabulary adds BOS). Longer than max_tokens: truncated with options.truncate, else
  // lmforge::Error naming `source` with the count and the limit.
  virtual std::vector<int32_t> tokenize(std::string_view text, const std::string& source = "text") const = 0;

  // One vector of info().dim floats per text, in order; with Pooling::None one per token
  // (tokens x dim floats, token-major). `sources` (optional, one per text) name the texts in
  // errors; by default "text N" (1-based). Thread-compatible, not thread-safe: one call at a
  // time per Embedder.
  std::vector<std::vector<float>> embed(std::span<const std::string> texts,
                                        std::span<const std::string> sources = {});
  // The same from token ids (as tokenize() gives them).
  std::vector<std::vector<float>> embed_tokens(std::span<const std::vector<int32_t>> sequences);

 protected:
  Embedder() = default;
  // Final hidden states, dim floats per row, sequences one after the other: every token of each
  // sequence for Mean and None, only each sequence's first token for Cls, only its last for
  // Last (the LLaMA engine then computes no other output rows).
  virtual std::vector<float> hidden_states(std::span<const std::vector<int32_t>> sequences, Pooling pooling) = 0;

  EmbeddingModelInfo info_;
  EmbedderOptions options_;
};

// Whether `path` is a GGUF file with general.architecture "bert" (embed and tokenize route such
// files to the BERT family; a BERT folder is arch/bert's is_bert_folder).
bool is_bert_gguf_file(const std::string& path);

// Pools `tokens` x `dim` hidden states (token-major) into `out` (dim floats; with None a copy
// of all of them): mean, first (cls), last. Then L2-normalises each resulting vector when
// `normalize`. Exposed for tests.
void pool_hidden_states(const float* hidden, size_t tokens, size_t dim, Pooling pooling, bool normalize,
                        std::vector<float>& out);

}  // namespace lmforge
