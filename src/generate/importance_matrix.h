// The importance matrix of a model over a calibration text, as llama.cpp's llama-imatrix
// computes it (tools/imatrix/imatrix.cpp), so that `lmforge imatrix` files and llama-imatrix
// files carry the same entries, counts and (up to rounding) values:
//
//   - the text is tokenized once, with BOS when the vocabulary adds one, and needs at least
//     2 * n_ctx tokens; it is cut into floor(n / n_ctx) chunks of n_ctx tokens (at most
//     --chunks), the remainder unused; each chunk is evaluated from an empty cache with its
//     first token replaced by BOS;
//   - for every weight product of the layers (names "blk.*"; output.weight too with
//     process_output, as llama-imatrix --process-output; token_embd is a row lookup, not a
//     product, and a tied head is named token_embd, so neither is recorded), the float input
//     rows x are summed as in_sum2[j] += x[j]^2 in token order, in float, and the count grows by
//     the number of rows: every token of every chunk counts (llama-imatrix asks for all logits);
//   - Q/K/V share one input and gate/up another, yet each weight keeps its own entry;
//   - the running perplexity over the second half of each chunk is reported, as llama-imatrix
//     prints it (its logits are free: the head runs anyway).
// llama-imatrix also skips products of fewer than 16 rows; with whole chunks of at least 16
// tokens (lmforge requires -c >= 16) there are none.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "formats/imatrix/imatrix_file.h"

namespace lmforge {

class LlamaModel;

struct ImatrixOptions {
  uint32_t n_ctx = 512;
  int64_t max_chunks = -1;      // -1: every whole chunk of the text
  uint32_t n_threads = 0;       // 0: one per core
  bool process_output = false;  // also record output.weight
  std::string dataset;          // the text's file name, stored in the matrix
};

struct ImatrixChunk {
  size_t index = 0, n_chunks = 0;  // index is 0-based
  double running_ppl = 0;
  double seconds = 0;              // since the first chunk started
};

struct ImatrixResult {
  ImatrixData data;  // raw sums and counts (legacy == false), chunk_count and chunk_size set
  double ppl = 0, ppl_error = 0;
  size_t n_chunks = 0, n_tokens = 0;
};

// How many chunks a text of n_tokens gives; throws UsageError for a text shorter than two
// chunks or -c below 16.
size_t imatrix_chunks(size_t n_tokens, uint32_t n_ctx, int64_t max_chunks);

// `tokens` is the tokenized text (BOS included), `bos_id` the token each chunk starts with
// (-1: keep the first token). `on_chunk` is called after every chunk.
ImatrixResult compute_importance_matrix(const LlamaModel& model, std::span<const int32_t> tokens, int32_t bos_id,
                                        const ImatrixOptions& options,
                                        const std::function<void(const ImatrixChunk&)>& on_chunk = {});

}  // namespace lmforge
