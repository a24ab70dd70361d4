#include "generate/text_streamer.h"

#include <string_view>

namespace lmforge {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // what decode makes of an unfinished sequence

}  // namespace

TextStreamer::TextStreamer(const Tokenizer& tok, int32_t context) : tok_(tok), ids_{context} { base_ = tok_.decode(ids_); }

std::string TextStreamer::push(int32_t id) {
  ids_.push_back(id);
  const std::string text = tok_.decode(ids_);
  if (text.size() < base_.size() || text.compare(0, base_.size(), base_) != 0) return {};
  const std::string_view gained = std::string_view(text).substr(base_.size());
  // Release only when what was released stays a prefix and no UTF-8 sequence is left unfinished.
  if (gained.size() < released_.size() || gained.compare(0, released_.size(), released_) != 0) return {};
  if (gained.size() >= kReplacementCharacter.size() && gained.ends_with(kReplacementCharacter)) return {};
  std::string piece(gained.substr(released_.size()));
  released_ = gained;
  return piece;
}

}  // namespace lmforge
