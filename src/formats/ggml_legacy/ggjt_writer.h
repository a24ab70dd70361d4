// The container side of `ggjt` version 3, the last legacy llama.cpp format: header,
// vocabulary and tensor records laid out as llama.cpp's loader wants them, written atomically
// (temp file + rename). Which tensors, names and types go in is the caller's choice
// (convert/sinks/ggjt_sink for llama).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/ggml_legacy/ggml_legacy_format.h"

namespace lmforge {

// Types a ggjt v3 tensor record can hold: F32, F16, Q4_0, Q4_1, Q8_0.
bool ggjt_v3_holds(DType t);
// The header `ftype` (llama_ftype) for files whose matrices are mostly of type `t`.
int32_t ggjt_ftype_of(DType t);

struct GgjtVocabEntry {
  std::string text;  // as the old converters wrote it (ggml_legacy::legacy_text_for_piece)
  float score = 0;
};

struct GgjtTensor {
  std::string name;
  DType type = DType::F32;            // one ggjt_v3_holds() accepts
  std::vector<uint64_t> shape;        // row-major, 1 or 2 dimensions
  std::function<TensorBytes()> produce;  // called once, in order; must yield the record's bytes
};

// Writes hp (n_vocab = vocab.size()), the vocabulary, then every tensor in order.
void write_ggjt_v3_file(const std::string& dst, bool overwrite, const ggml_legacy::Hparams& hp,
                        const std::vector<GgjtVocabEntry>& vocab, const std::vector<GgjtTensor>& tensors);

}  // namespace lmforge
