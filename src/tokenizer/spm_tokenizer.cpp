#include "tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "core/error.h"
#include "tokenizer/spm_utf8.h"

namespace lmforge {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581, SentencePiece's space
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";  // " ⁇ ", libsentencepiece's default

// "<0xAB>" -> 0xAB, with upper-case hex digits as the trainer writes them; -1 otherwise.
int byte_of_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = p[i];
    v *= 16;
    if (c >= '0' && c <= '9') v += c - '0';
    else if (c >= 'A' && c <= 'F') v += c - 'A' + 10;
    else return -1;
  }
  return v;
}

std::string byte_piece(unsigned b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

// Length of the character starting with lead byte `c`, by its high bits only (continuation
// bytes and invalid leads count as one byte), as SentencePiece splits normalized text.
size_t lead_length(unsigned char c) {
  if (c < 0xC0) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

void replace_space_symbols(std::string_view piece, std::string& out) {
  for (size_t p = 0;;) {
    const size_t q = piece.find(kSpaceSymbol, p);
    if (q == std::string_view::npos) {
      out.append(piece.substr(p));
      return;
    }
    out.append(piece.substr(p, q - p));
    out.push_back(' ');
    p = q + kSpaceSymbol.size();
  }
}

}  // namespace

SpmTokenizer::SpmTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  const size_t n = vocab_.pieces.size();
  if (n == 0 || vocab_.scores.size() != n || vocab_.types.size() != n)
    throw Error("", "the vocabulary is empty or its lists differ in length");
  if (vocab_.unk_id < 0 || static_cast<size_t>(vocab_.unk_id) >= n)
    throw Error("", "the unknown id is outside the vocabulary");
  mergeable_.reserve(n);
  byte_value_.assign(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = vocab_.pieces[i];
    const TokenType t = vocab_.types[i];
    const bool mergeable = t == TokenType::kNormal || t == TokenType::kUserDefined || t == TokenType::kUnused;
    if (t == TokenType::kByte) byte_value_[i] = static_cast<int16_t>(byte_of_piece(p));
    if (p.empty()) continue;  // no text can produce it
    // First definition wins; libsentencepiece refuses duplicates, GGUF files sometimes have them.
    (mergeable ? mergeable_ : reserved_).emplace(p, static_cast<int32_t>(i));
    if (t == TokenType::kUserDefined && user_defined_.insert(p).second) user_defined_lengths_.push_back(p.size());
  }
  std::sort(user_defined_lengths_.begin(), user_defined_lengths_.end(), std::greater<>());
  user_defined_lengths_.erase(std::unique(user_defined_lengths_.begin(), user_defined_lengths_.end()),
                              user_defined_lengths_.end());
  for (unsigned b = 0; b < 256; ++b) byte_ids_[b] = piece_to_id(byte_piece(b));
  set_specials(vocab_.bos_id, vocab_.eos_id, vocab_.add_bos, vocab_.add_eos, vocab_.eog_ids);
}

TokenType SpmTokenizer::token_type(int32_t id) const {
  check_id(id);
  return vocab_.types[static_cast<size_t>(id)];
}

void SpmTokenizer::check_id(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
    throw Error("", "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab_.size()));
}

const std::string& SpmTokenizer::piece(int32_t id) const {
  check_id(id);
  return vocab_.pieces[static_cast<size_t>(id)];
}

int32_t SpmTokenizer::piece_to_id(std::string_view p) const {
  if (auto it = reserved_.find(p); it != reserved_.end()) return it->second;
  if (auto it = mergeable_.find(p); it != mergeable_.end()) return it->second;
  return vocab_.unk_id;
}

size_t SpmTokenizer::match_user_defined(std::string_view s) const {
  for (size_t len : user_defined_lengths_)
    if (len <= s.size() && user_defined_.find(s.substr(0, len)) != user_defined_.end()) return len;
  return 0;
}

std::string SpmTokenizer::normalize(std::string_view text) const {
  std::string out;
  if (text.empty()) return out;
  const bool remove_extra = vocab_.remove_extra_whitespaces;
  if (remove_extra) {
    size_t lead = 0;
    while (lead < text.size() && text[lead] == ' ') ++lead;
    text.remove_prefix(lead);
    if (text.empty()) return out;
  }
  const std::string_view space = vocab_.escape_whitespaces ? kSpaceSymbol : std::string_view(" ");
  out.reserve(text.size() + text.size() / 2 + space.size());
  if (vocab_.add_dummy_prefix) out.append(space);

  bool prev_space = remove_extra;
  while (!text.empty()) {
    const size_t n = spm_utf8::char_length(text);
    const std::string_view ch = n ? text.substr(0, n) : spm_utf8::kReplacement;
    text.remove_prefix(n ? n : 1);
    const bool is_space = ch == " ";
    if (is_space && prev_space) continue;  // collapsing runs (remove_extra_whitespaces only)
    if (is_space) out.append(space);
    else out.append(ch);
    prev_space = remove_extra && is_space;
  }
  if (remove_extra) {
    while (out.size() >= space.size() && std::string_view(out).substr(out.size() - space.size()) == space)
      out.resize(out.size() - space.size());
  }
  return out;
}

std::vector<std::string_view> SpmTokenizer::bpe(std::string_view text) const {
  struct Symbol {
    int64_t prev, next;
    size_t begin, len;
    bool freeze;
  };
  struct Pair {
    float score;
    int64_t left, right;
    size_t size;
  };
  // Highest score first; among equal scores the leftmost pair.
  struct Lower {
    bool operator()(const Pair& a, const Pair& b) const {
      if (a.score != b.score) return a.score < b.score;
      return a.left > b.left;
    }
  };

  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len = user_defined_.empty() ? 0 : match_user_defined(text.substr(pos));
    const bool freeze = len > 0;
    if (!freeze) len = std::min(lead_length(static_cast<unsigned char>(text[pos])), text.size() - pos);
    const auto index = static_cast<int64_t>(sym.size());
    sym.push_back({index - 1, pos + len < text.size() ? index + 1 : -1, pos, len, freeze});
    pos += len;
  }

  std::priority_queue<Pair, std::vector<Pair>, Lower> agenda;
  // Merged text -> the two pieces it was made from, for pieces of type unused.
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;
  const auto view = [&](const Symbol& s) { return text.substr(s.begin, s.len); };
  const auto consider = [&](int64_t l, int64_t r) {
    if (l < 0 || r < 0) return;
    const Symbol& a = sym[static_cast<size_t>(l)];
    const Symbol& b = sym[static_cast<size_t>(r)];
    if (a.freeze || b.freeze) return;
    const std::string_view joined = text.substr(a.begin, a.len + b.len);
    const auto it = mergeable_.find(joined);
    if (it == mergeable_.end()) return;
    const auto id = static_cast<size_t>(it->second);
    agenda.push({vocab_.scores[id], l, r, joined.size()});
    if (vocab_.types[id] == TokenType::kUnused) rev_merge[joined] = {view(a), view(b)};
  };

  for (size_t i = 1; i < sym.size(); ++i) consider(static_cast<int64_t>(i - 1), static_cast<int64_t>(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& l = sym[static_cast<size_t>(top.left)];
    Symbol& r = sym[static_cast<size_t>(top.right)];
    // Stale entries: one side already merged away, or the right side has grown since.
    if (l.len == 0 || r.len == 0 || l.len + r.len != top.size) continue;
    l.len += r.len;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = top.left;
    r.len = 0;
    consider(l.prev, top.left);
    consider(top.left, l.next);
  }

  std::vector<std::string_view> out;
  std::vector<std::string_view> stack;
  for (int64_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    stack.push_back(view(sym[static_cast<size_t>(i)]));
    while (!stack.empty()) {  // unused pieces go back to the pieces they were merged from
      const std::string_view w = stack.back();
      stack.pop_back();
      const auto it = mergeable_.find(w);
      if (it != mergeable_.end() && vocab_.types[static_cast<size_t>(it->second)] == TokenType::kUnused) {
        if (auto m = rev_merge.find(w); m != rev_merge.end()) {
          stack.push_back(m->second.second);
          stack.push_back(m->second.first);
          continue;
        }
      }
      out.push_back(w);
    }
  }
  return out;
}

std::vector<int32_t> SpmTokenizer::encode_text(std::string_view text) const {
  std::vector<int32_t> ids;
  const std::string normalized = normalize(text);
  bool prev_unknown = false;
  for (std::string_view w : bpe(normalized)) {
    const int32_t id = piece_to_id(w);
    const bool unknown = id == vocab_.unk_id;
    if (unknown && vocab_.byte_fallback) {
      for (unsigned char b : w) ids.push_back(byte_ids_[b]);
      prev_unknown = false;
    } else {
      // A run of unknown characters is one unknown token, as in libsentencepiece.
      if (!(unknown && prev_unknown)) ids.push_back(id);
      prev_unknown = unknown;
    }
  }
  return ids;
}

std::string SpmTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text, bytes;
  const auto flush_bytes = [&] {
    text += spm_utf8::repair(bytes);
    bytes.clear();
  };
  const bool strip_prefix = vocab_.add_dummy_prefix || vocab_.remove_extra_whitespaces;
  bool at_start = true;      // a leading U+2581 may still be the dummy prefix
  bool prefix_seen = false;  // the previous piece gave up its leading U+2581
  for (int32_t id : ids) {
    check_id(id);
    const auto i = static_cast<size_t>(id);
    const TokenType t = vocab_.types[i];
    if (t == TokenType::kByte && byte_value_[i] >= 0) {
      bytes.push_back(static_cast<char>(byte_value_[i]));
      continue;
    }
    flush_bytes();
    if (prefix_seen || !text.empty()) at_start = false;
    prefix_seen = false;
    if (t == TokenType::kControl) continue;
    if (t == TokenType::kUnknown) {
      text += kUnknownSurface;
      continue;
    }
    std::string_view p = vocab_.pieces[i];
    if (at_start && strip_prefix && p.starts_with(kSpaceSymbol)) {
      p.remove_prefix(kSpaceSymbol.size());
      // Without extra whitespace removal only one space is the dummy prefix's.
      prefix_seen = !vocab_.remove_extra_whitespaces;
    }
    replace_space_symbols(p, text);
  }
  flush_bytes();
  return text;
}

std::string SpmTokenizer::token_text(int32_t id) const {
  check_id(id);
  const auto i = static_cast<size_t>(id);
  const TokenType t = vocab_.types[i];
  if (t == TokenType::kByte && byte_value_[i] >= 0) return std::string(1, static_cast<char>(byte_value_[i]));
  if (t == TokenType::kControl || t == TokenType::kUnknown) return vocab_.pieces[i];
  std::string out;
  replace_space_symbols(vocab_.pieces[i], out);
  return out;
}

}  // namespace lmforge
