// The training data file as a command reads it: its bytes hashed (the checkpoint's data
// fingerprint, so a resume with another file is refused), its text tokenized once with BOS
// and cut into TokenWindows.
//
// The tokenizer comes in as a function so that any vocabulary (SentencePiece, BPE) serves;
// BOS is added here, not by it, so every tokenizer gets it the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "train/token_windows.h"

namespace lmforge {

// Text -> token ids, without BOS or EOS.
using TextTokenizer = std::function<std::vector<int32_t>(std::string_view text)>;

struct TrainingData {
  std::string sha256;    // lower-case hex of the file's bytes
  TokenWindows windows;
};

// Maps `path`, tokenizes its text with `tokenize`,
// puts `bos_id` first when it is >= 0, and cuts windows of ctx + 1 tokens. Throws
// lmforge::Error naming `path` when the file cannot be read, is empty, is not UTF-8 text, or
// gives fewer than ctx + 1 tokens.
TrainingData load_training_data(const std::string& path, uint32_t ctx, int32_t bos_id, const TextTokenizer& tokenize);

}  // namespace lmforge
