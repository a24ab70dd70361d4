#include "tokenizer/wordpiece_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/wordpiece_basic.h"
#include "tokenizer/wordpiece_unicode.h"

namespace lmforge {

namespace wu = wordpiece_unicode;

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

// Hugging Face's clean_up_tokenization, replacement by replacement in its order.
void clean_up_tokenization(std::string& s) {
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(WordPieceVocab vocab) : vocab_(std::move(vocab)) {
  ids_.reserve(vocab_.tokens.size());
  for (size_t i = 0; i < vocab_.tokens.size(); ++i) {
    ids_.emplace(vocab_.tokens[i], static_cast<int32_t>(i));
    longest_token_ = std::max(longest_token_, vocab_.tokens[i].size());
  }
  special_.assign(vocab_.tokens.size(), false);
  for (const auto& a : vocab_.added) {
    added_text_.push_back(wu::decode_utf8(a.text));
    if (a.special && a.id >= 0 && static_cast<size_t>(a.id) < special_.size()) special_[static_cast<size_t>(a.id)] = true;
  }
}

void WordPieceTokenizer::check_id(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.tokens.size())
    fail("", "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab_.tokens.size()));
}

const std::string& WordPieceTokenizer::token(int32_t id) const {
  check_id(id);
  return vocab_.tokens[static_cast<size_t>(id)];
}

size_t WordPieceTokenizer::match_added(std::u32string_view text, size_t pos, size_t& which) const {
  size_t best = 0;
  for (size_t i = 0; i < added_text_.size(); ++i) {
    const auto& a = added_text_[i];
    if (a.size() > best && text.substr(pos, a.size()) == a) {
      best = a.size();
      which = i;
    }
  }
  return best;
}

void WordPieceTokenizer::encode_word(std::u32string_view word, std::vector<int32_t>& out) const {
  if (word.size() > vocab_.settings.max_input_chars_per_word) {
    out.push_back(vocab_.unk_id);
    return;
  }
  // Byte offset of each character, so that candidates are substrings of one UTF-8 string.
  std::string utf8;
  std::vector<size_t> offset;
  offset.reserve(word.size() + 1);
  for (char32_t cp : word) {
    offset.push_back(utf8.size());
    wu::append_utf8(utf8, cp);
  }
  offset.push_back(utf8.size());

  const size_t first_piece = out.size();
  std::string candidate;
  for (size_t start = 0; start < word.size();) {
    int32_t found = -1;
    // Candidates longer than the longest token cannot match; skipping them keeps a long word
    // (a hostile max_input_chars_per_word) linear in its length.
    const size_t extra = start > 0 ? vocab_.settings.continuing_prefix.size() : 0;
    size_t end = start;
    if (longest_token_ >= extra) {
      const size_t limit = offset[start] + (longest_token_ - extra);
      end = static_cast<size_t>(std::upper_bound(offset.begin() + static_cast<std::ptrdiff_t>(start), offset.end(), limit) -
                                offset.begin()) - 1;
    }
    for (; end > start; --end) {
      candidate.clear();
      if (start > 0) candidate += vocab_.settings.continuing_prefix;
      candidate.append(utf8, offset[start], offset[end] - offset[start]);
      if (auto it = ids_.find(candidate); it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // no piece fits: the whole word is unknown
      out.resize(first_piece);
      out.push_back(vocab_.unk_id);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

void WordPieceTokenizer::encode_stretch(std::u32string_view text, std::vector<int32_t>& out) const {
  const std::u32string normalized = bert_normalize(text, vocab_.settings);
  for_each_bert_word(normalized, [&](std::u32string_view word) { encode_word(word, out); });
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  const std::u32string cps = wu::decode_utf8(text);
  const std::u32string_view all(cps);
  std::vector<int32_t> out;
  size_t start = 0;          // first character of the current stretch
  bool strip_start = false;  // the previous added token swallows whitespace after it
  for (size_t pos = 0; pos < all.size();) {
    size_t which = 0;
    const size_t n = match_added(all, pos, which);
    if (n == 0) {
      ++pos;
      continue;
    }
    const WordPieceAddedToken& added = vocab_.added[which];
    size_t end = pos;
    if (added.lstrip)
      while (end > start && wu::is_white_space(all[end - 1])) --end;
    if (strip_start)
      while (start < end && wu::is_white_space(all[start])) ++start;
    encode_stretch(all.substr(start, end - start), out);
    out.push_back(added.id);
    pos += n;
    start = pos;
    strip_start = added.rstrip;
  }
  if (strip_start)
    while (start < all.size() && wu::is_white_space(all[start])) ++start;
  encode_stretch(all.substr(start), out);
  return out;
}

std::vector<int32_t> WordPieceTokenizer::encode_for_model(std::string_view text, bool truncate,
                                                          const std::string& source) const {
  std::vector<int32_t> body = encode(text);
  const size_t limit = vocab_.settings.model_max_length;
  if (body.size() + 2 > limit) {
    if (!truncate)
      fail(source, "the text is " + std::to_string(body.size() + 2) + " tokens with [CLS] and [SEP]; the model takes at most " +
                       std::to_string(limit) + " (--truncate keeps the first " + std::to_string(limit) + ")");
    body.resize(limit - 2);
  }
  std::vector<int32_t> out;
  out.reserve(body.size() + 2);
  out.push_back(vocab_.cls_id);
  out.insert(out.end(), body.begin(), body.end());
  out.push_back(vocab_.sep_id);
  return out;
}

std::string WordPieceTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string text;
  bool first = true;
  const std::string& prefix = vocab_.settings.continuing_prefix;
  for (int32_t id : ids) {
    check_id(id);
    if (skip_special_tokens && special_[static_cast<size_t>(id)]) continue;
    const std::string& tok = vocab_.tokens[static_cast<size_t>(id)];
    std::string piece;
    if (first) piece = tok;
    else if (!prefix.empty() && starts_with(tok, prefix)) piece = tok.substr(prefix.size());
    else piece = " " + tok;
    if (vocab_.settings.decoder_cleanup) clean_up_tokenization(piece);
    text += piece;
    first = false;
  }
  if (vocab_.settings.clean_up_tokenization_spaces) clean_up_tokenization(text);
  return text;
}

}  // namespace lmforge
