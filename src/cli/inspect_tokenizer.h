// The tokenizer part of `lmforge inspect`: which kind a model file or folder carries
// (SentencePiece, byte-level BPE with its pre-tokenizer, WordPiece), its size, its special ids
// (BOS, EOS, every end-of-generation id; for WordPiece [CLS]/[SEP]/[UNK]/[PAD]/[MASK]) and
// whether prompts get BOS, for GGUF files and Hugging Face folders alike.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/detect/sniff.h"

namespace lmforge {
class TensorSource;
}

namespace lmforge::cli {

struct TokenizerSummary {
  nlohmann::json facts;            // null: the input carries no tokenizer; {"error": ...} when unreadable
  std::vector<std::string> lines;  // for the text output: "byte-level BPE (llama-bpe), 128256 tokens", ...
};

TokenizerSummary summarize_tokenizer(const std::string& path, FileFormat fmt, const TensorSource& src);

}  // namespace lmforge::cli
