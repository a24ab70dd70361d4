// Legacy llama.cpp model files from before GGUF: `ggml` (unversioned), `ggmf` v1 and `ggjt`
// v1-v3. See docs/formats/ggml-legacy.md for the layouts.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/ggml_legacy/ggml_legacy_format.h"

namespace lmforge {

// Every tensor in the current ggml block layout of its type (old Q4_0/Q4_1 nibble orders and
// f32 scales are rewritten on read, the scales rounded to f16; Q4_2/Q4_3, which have no
// current form, are decoded to F32, exactly); metadata() holds the magic, version, hyperparameters and vocabulary size.
std::unique_ptr<TensorSource> open_ggml_legacy(const std::string& path);

// The same file with its header as stored: hyperparameters and the vocabulary (entry text as
// written, scores 0 in 'ggml' files). convert/sources/ggml_legacy_llama_source reads it as a
// llama.
struct GgmlLegacyContents {
  std::unique_ptr<TensorSource> tensors;
  ggml_legacy::Hparams hparams;
  std::vector<std::string> vocab_text;
  std::vector<float> scores;
};
GgmlLegacyContents open_ggml_legacy_contents(const std::string& path);

}  // namespace lmforge
