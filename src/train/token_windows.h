// The training data as windows: the file tokenized once (with BOS), cut into windows of
// ctx + 1 tokens with stride ctx. A window's first ctx tokens are the inputs and its last ctx
// tokens the targets (each the token after its input); a partial tail window is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lmforge {

class TokenWindows {
 public:
  // Throws lmforge::Error naming `source` when the tokens do not fill one window (fewer than
  // ctx + 1) or ctx is 0.
  TokenWindows(std::vector<int32_t> tokens, uint32_t ctx, const std::string& source);

  uint32_t ctx() const { return ctx_; }
  // (n_tokens - 1) / ctx: every window that is whole.
  size_t size() const { return count_; }
  size_t n_tokens() const { return tokens_.size(); }
  // Window i: tokens [i * ctx, i * ctx + ctx], ctx + 1 of them.
  std::span<const int32_t> window(size_t i) const;

 private:
  std::vector<int32_t> tokens_;
  uint32_t ctx_ = 0;
  size_t count_ = 0;
};

}  // namespace lmforge
