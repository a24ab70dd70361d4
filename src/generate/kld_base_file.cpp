#include "generate/kld_base_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/atomic_output.h"
#include "core/byte_reader.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace lmforge {

namespace {

// The span of logits a row resolves: 16 nats below the largest, as llama.cpp keeps.
constexpr float kLogitRange = 16.0f;
constexpr uint32_t kMinContext = 8;
constexpr uint32_t kMaxContext = 1u << 20;
// No vocabulary of a model we run comes near this; a larger count is a corrupt header.
constexpr uint32_t kMaxVocab = 1u << 24;
// Rounding slack when checking that a row's largest log-probability is not above 0.
constexpr float kLogProbSlack = 1e-3f;

}  // namespace

void encode_kld_row(std::span<const float> logits, std::span<uint16_t> row) {
  const size_t n_vocab = logits.size();
  if (n_vocab == 0 || row.size() != kld_row_words(n_vocab))
    throw Error("<kl-divergence>", "a row of " + std::to_string(row.size()) + " words cannot hold " +
                                       std::to_string(n_vocab) + " log-probabilities");
  float max_logit = logits[0], min_logit = logits[0];
  for (float v : logits) {
    max_logit = std::max(max_logit, v);
    min_logit = std::min(min_logit, v);
  }
  min_logit = std::max(min_logit, max_logit - kLogitRange);
  double sum_exp = 0;
  for (float v : logits) sum_exp += std::exp(v - max_logit);
  // Float from here on, in llama.cpp's order, so the two programs write the same words.
  const float log_sum_exp = static_cast<float>(std::log(sum_exp));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.0f;
  std::memcpy(&row[0], &scale, sizeof scale);
  std::memcpy(&row[2], &min_log_prob, sizeof min_log_prob);
  uint16_t* codes = row.data() + 4;
  std::fill(codes, row.data() + row.size(), uint16_t{0});
  if (scale > 0) {
    const float inv_scale = 1.0f / scale;
    for (size_t i = 0; i < n_vocab; ++i) {
      if (!(logits[i] > min_logit)) continue;
      const float code = std::nearbyint(inv_scale * (logits[i] - min_logit));  // ties to even, as llama.cpp
      codes[i] = static_cast<uint16_t>(std::clamp(code, 0.0f, 65535.0f));
    }
  }
}

KldBaseWriter::KldBaseWriter(const std::string& path, bool overwrite, uint32_t n_ctx, uint32_t n_vocab,
                             uint32_t n_chunks, std::span<const int32_t> tokens)
    : n_vocab_(n_vocab),
      rows_expected_(static_cast<uint64_t>(n_chunks) * kld_rows_per_chunk(n_ctx)),
      row_(kld_row_words(n_vocab)) {
  if (tokens.size() != static_cast<uint64_t>(n_ctx) * n_chunks)
    throw Error(path, "the base file needs " + std::to_string(static_cast<uint64_t>(n_ctx) * n_chunks) +
                          " tokens, got " + std::to_string(tokens.size()));
  out_ = std::make_unique<AtomicOutputFile>(path, overwrite);
  const auto vocab = static_cast<int32_t>(n_vocab), chunks = static_cast<int32_t>(n_chunks);
  out_->write(kKldBaseMagic, sizeof kKldBaseMagic);
  out_->write(&n_ctx, sizeof n_ctx);
  out_->write(&vocab, sizeof vocab);
  out_->write(&chunks, sizeof chunks);
  out_->write(tokens.data(), tokens.size_bytes());
}

KldBaseWriter::~KldBaseWriter() = default;

void KldBaseWriter::add_row(std::span<const float> logits) {
  if (logits.size() != n_vocab_)
    throw Error(out_->destination(), "a row of " + std::to_string(logits.size()) + " logits for a vocabulary of " +
                                         std::to_string(n_vocab_));
  if (rows_written_ == rows_expected_)
    throw Error(out_->destination(), "more scored rows than the header's " + std::to_string(rows_expected_));
  encode_kld_row(logits, row_);
  out_->write(row_.data(), row_.size() * sizeof(uint16_t));
  ++rows_written_;
}

void KldBaseWriter::commit() {
  if (rows_written_ != rows_expected_)
    throw Error(out_->destination(), std::to_string(rows_written_) + " scored rows written, the header promises " +
                                         std::to_string(rows_expected_));
  out_->commit();
}

KldBaseFile KldBaseFile::open(const std::string& path, uint32_t expected_n_vocab) {
  auto file = MappedFile::open(path);
  KldBaseFile f = parse(file->bytes(), path, expected_n_vocab);
  f.file_ = std::move(file);
  return f;
}

KldBaseFile KldBaseFile::parse(std::span<const uint8_t> bytes, std::string label, uint32_t expected_n_vocab) {
  KldBaseFile f;
  f.bytes_ = bytes;
  f.label_ = std::move(label);
  ByteReader r(bytes, f.label_);
  const auto magic = r.take(sizeof kKldBaseMagic, "the magic \"_logits_\"");
  if (std::memcmp(magic.data(), kKldBaseMagic, sizeof kKldBaseMagic) != 0)
    r.fail_at(0, "not a KL-divergence base file (llama-perplexity --kl-divergence-base): no \"_logits_\" magic");
  const uint32_t n_ctx = r.u32("n_ctx");
  if (n_ctx < kMinContext || n_ctx > kMaxContext)
    r.fail_at(8, "n_ctx " + std::to_string(n_ctx) + " is outside " + std::to_string(kMinContext) + " .. " +
                     std::to_string(kMaxContext));
  const int32_t n_vocab = r.i32("n_vocab");
  if (n_vocab <= 0 || static_cast<uint32_t>(n_vocab) > kMaxVocab)
    r.fail_at(12, "n_vocab " + std::to_string(n_vocab) + " is not a vocabulary size");
  if (expected_n_vocab != 0 && static_cast<uint32_t>(n_vocab) != expected_n_vocab)
    r.fail_at(12, "made with a vocabulary of " + std::to_string(n_vocab) + " tokens, the model has " +
                      std::to_string(expected_n_vocab));
  const int32_t n_chunks = r.i32("n_chunks");
  if (n_chunks <= 0) r.fail_at(16, "n_chunks " + std::to_string(n_chunks) + ": no chunk to compare");
  f.n_ctx_ = n_ctx;
  f.n_vocab_ = static_cast<uint32_t>(n_vocab);
  f.n_chunks_ = static_cast<uint32_t>(n_chunks);

  // Every size from the header, checked against the file before anything is allocated.
  const uint64_t n_tokens = static_cast<uint64_t>(n_ctx) * f.n_chunks_;
  const uint64_t n_rows = static_cast<uint64_t>(f.rows_per_chunk()) * f.n_chunks_;
  const auto row_bytes = checked_mul(kld_row_words(f.n_vocab_), sizeof(uint16_t));
  const auto rows_bytes = row_bytes ? checked_mul(*row_bytes, n_rows) : std::nullopt;
  const auto tokens_end = checked_add(kKldBaseHeaderBytes, n_tokens * sizeof(int32_t));
  const auto total = rows_bytes && tokens_end ? checked_add(*tokens_end, *rows_bytes) : std::nullopt;
  if (!total)
    r.fail_at(8, "the header's sizes (n_ctx " + std::to_string(n_ctx) + ", n_vocab " + std::to_string(n_vocab) +
                     ", n_chunks " + std::to_string(n_chunks) + ") overflow");
  if (bytes.size() < *total)
    r.fail_at(bytes.size(), "truncated: n_ctx " + std::to_string(n_ctx) + ", n_vocab " + std::to_string(n_vocab) +
                                " and n_chunks " + std::to_string(n_chunks) + " need " + std::to_string(*total) +
                                " bytes, the file has " + std::to_string(bytes.size()));
  if (bytes.size() > *total)
    r.fail_at(*total, std::to_string(bytes.size() - *total) + " bytes after the last row (the header accounts for " +
                          std::to_string(*total) + ")");

  f.tokens_.resize(n_tokens);
  std::memcpy(f.tokens_.data(), bytes.data() + kKldBaseHeaderBytes, n_tokens * sizeof(int32_t));
  for (uint64_t i = 0; i < n_tokens; ++i) {
    if (f.tokens_[i] < 0 || f.tokens_[i] >= n_vocab)
      r.fail_at(kKldBaseHeaderBytes + i * sizeof(int32_t),
                "token " + std::to_string(f.tokens_[i]) + " at text position " + std::to_string(i) +
                    " is outside the vocabulary of " + std::to_string(n_vocab));
  }
  f.rows_offset_ = *tokens_end;
  return f;
}

void KldBaseFile::decode_row(uint64_t row, std::vector<float>& log_probs) const {
  const uint64_t n_rows = static_cast<uint64_t>(rows_per_chunk()) * n_chunks_;
  const uint64_t words = kld_row_words(n_vocab_);
  if (row >= n_rows)
    throw Error(label_, "row " + std::to_string(row) + " asked of " + std::to_string(n_rows));
  const uint64_t at = rows_offset_ + row * words * sizeof(uint16_t);
  const uint8_t* p = bytes_.data() + at;
  float scale, min_log_prob;
  std::memcpy(&scale, p, sizeof scale);
  std::memcpy(&min_log_prob, p + 4, sizeof min_log_prob);
  if (!std::isfinite(scale) || !std::isfinite(min_log_prob) || scale < 0 ||
      min_log_prob + 65535.0f * scale > kLogProbSlack)
    fail(label_,
         "row " + std::to_string(row) + " (chunk " + std::to_string(row / rows_per_chunk() + 1) +
             "): scale " + std::to_string(scale) + " and offset " + std::to_string(min_log_prob) +
             " are not log-probabilities",
         at);
  log_probs.resize(n_vocab_);
  const uint8_t* codes = p + 8;
  for (uint32_t i = 0; i < n_vocab_; ++i) {
    uint16_t code;
    std::memcpy(&code, codes + 2 * static_cast<size_t>(i), sizeof code);
    log_probs[i] = scale * code + min_log_prob;
  }
}

}  // namespace lmforge
