#include "train/token_windows.h"

#include "core/error.h"

namespace lmforge {

TokenWindows::TokenWindows(std::vector<int32_t> tokens, uint32_t ctx, const std::string& source)
    : tokens_(std::move(tokens)), ctx_(ctx) {
  if (ctx_ == 0) fail(source, "the context length (--ctx) must be at least 1");
  // A window needs ctx inputs and the one token after the last of them.
  if (tokens_.size() < static_cast<size_t>(ctx_) + 1)
    fail(source, std::to_string(tokens_.size()) + " tokens do not fill one training window of ctx + 1 = " +
                     std::to_string(static_cast<uint64_t>(ctx_) + 1) + " tokens (give more text or a smaller --ctx)");
  count_ = (tokens_.size() - 1) / ctx_;
}

std::span<const int32_t> TokenWindows::window(size_t i) const {
  if (i >= count_) fail("<training data>", "internal error: window " + std::to_string(i) + " of " + std::to_string(count_));
  return std::span<const int32_t>(tokens_).subspan(i * ctx_, static_cast<size_t>(ctx_) + 1);
}

}  // namespace lmforge
