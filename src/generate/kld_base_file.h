// The KL-divergence base file of llama.cpp's `llama-perplexity --kl-divergence-base FILE`: the
// reference model's next-token log-probabilities at every scored position, so that a quantized
// model can later be compared with it (`--kl-divergence`). Same layout as llama.cpp's, so files
// move both ways between the two programs. Little-endian throughout:
//
//   "_logits_"                       8 bytes of magic
//   uint32 n_ctx, int32 n_vocab, int32 n_chunks
//   int32 tokens[n_chunks * n_ctx]   the text's tokens as tokenized (BOS not substituted)
//   per chunk, per scored position (n_ctx - 1 - n_ctx/2 of them, the perplexity method's):
//     a row of nv = 2*ceil(n_vocab/2) + 4 uint16 words:
//       float scale, float min_log_prob        (the first 4 words)
//       uint16 code[n_vocab]                   log p_i = scale * code_i + min_log_prob
//       one zero word when n_vocab is odd      (rows stay 4-byte aligned)
//
// A row covers the 16 nats below the largest logit: min_logit = max(min logit, max - 16),
// scale = (max - min_logit) / 65535, code_i = round((logit_i - min_logit) / scale), 0 at or below
// min_logit, and min_log_prob = min_logit - logsumexp(logits).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lmforge {

class AtomicOutputFile;
class MappedFile;

inline constexpr char kKldBaseMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
inline constexpr uint64_t kKldBaseHeaderBytes = 20;

// uint16 words per row for a vocabulary of n_vocab.
inline uint64_t kld_row_words(uint64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }
// Scored positions per chunk of n_ctx tokens (the perplexity method's second half).
inline uint32_t kld_rows_per_chunk(uint32_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

// Encodes one position's logits as a row of kld_row_words(logits.size()) words, as llama.cpp
// does (float arithmetic in the same order, so both programs write the same codes).
void encode_kld_row(std::span<const float> logits, std::span<uint16_t> row);

// Writes a base file: the header and tokens at construction, then add_row() once per scored
// position in order, then commit(), which refuses a row count other than the header's.
class KldBaseWriter {
 public:
  KldBaseWriter(const std::string& path, bool overwrite, uint32_t n_ctx, uint32_t n_vocab, uint32_t n_chunks,
                std::span<const int32_t> tokens);
  ~KldBaseWriter();
  void add_row(std::span<const float> logits);
  void commit();

 private:
  std::unique_ptr<AtomicOutputFile> out_;
  uint32_t n_vocab_;
  uint64_t rows_expected_, rows_written_ = 0;
  std::vector<uint16_t> row_;
};

// A base file read and checked: the header against the file size (and against the model's
// vocabulary when one is given), every token against the vocabulary; rows are checked as they
// are decoded. Every refusal is an lmforge::Error naming the file and the byte.
class KldBaseFile {
 public:
  // `expected_n_vocab` 0: any vocabulary.
  static KldBaseFile open(const std::string& path, uint32_t expected_n_vocab);
  // Over bytes already in memory (the fuzz harness); `bytes` must outlive the result.
  static KldBaseFile parse(std::span<const uint8_t> bytes, std::string label, uint32_t expected_n_vocab);

  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t n_vocab() const { return n_vocab_; }
  uint32_t n_chunks() const { return n_chunks_; }
  uint32_t rows_per_chunk() const { return kld_rows_per_chunk(n_ctx_); }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const std::string& label() const { return label_; }

  // The log-probabilities of row `row` (0-based among all scored rows, chunk-major) into
  // `log_probs` (n_vocab floats). Refuses a row whose scale or offset is not finite or would
  // give a probability above 1.
  void decode_row(uint64_t row, std::vector<float>& log_probs) const;

 private:
  std::shared_ptr<const MappedFile> file_;  // keeps the mapping alive; null for parse()
  std::span<const uint8_t> bytes_;
  std::string label_;
  uint32_t n_ctx_ = 0, n_vocab_ = 0, n_chunks_ = 0;
  uint64_t rows_offset_ = 0;
  std::vector<int32_t> tokens_;
};

}  // namespace lmforge
