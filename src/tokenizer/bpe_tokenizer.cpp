#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "tokenizer/bpe_byte_level.h"
#include "tokenizer/bpe_unicode.h"
#include "tokenizer/spm_utf8.h"

namespace lmforge {

namespace {

uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

}  // namespace

// Buffers one encode call reuses across its words (encode is const and may run on many
// threads at once, so they live on the caller's stack, not in the tokenizer).
struct BpeTokenizer::Scratch {
  struct Symbol {
    int32_t id;  // -2 once merged into its left neighbour
    int32_t prev, next;
  };
  struct Candidate {
    uint32_t rank;
    int32_t left;  // symbol index; ties go to the leftmost
    int32_t left_id, right_id, result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  explicit Scratch(BpePreTokenizer kind) : splitter(kind) {}
  BpeWordSplitter splitter;
  std::vector<std::string_view> words;
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::string encoded;
};

BpeTokenizer::BpeTokenizer(BpeVocab vocab, const std::string& file) : vocab_(std::move(vocab)) {
  check_bpe_vocab(vocab_, file);
  const size_t n = vocab_.size();
  ids_.reserve(n);
  for (size_t i = 0; i < n; ++i) ids_[vocab_.tokens[i]] = static_cast<int32_t>(i);
  const auto& alphabet = bpe_byte_level::alphabet();
  for (unsigned b = 0; b < 256; ++b) {
    auto it = ids_.find(alphabet.utf8_of_byte[b]);
    byte_ids_[b] = it == ids_.end() ? -1 : it->second;
  }
  merges_.reserve(vocab_.merges.size());
  for (size_t r = 0; r < vocab_.merges.size(); ++r) {
    const auto& [a, b] = vocab_.merges[r];
    const int32_t left = ids_.find(a)->second, right = ids_.find(b)->second;  // check_bpe_vocab found them
    const int32_t result = ids_.find(a + b)->second;
    merges_.emplace(pair_key(left, right), Merge{static_cast<uint32_t>(r), result});  // a repeated pair keeps its first rank
  }
  for (size_t i = 0; i < n; ++i)
    if (vocab_.types[i] == TokenType::kUserDefined && !vocab_.tokens[i].empty()) {
      user_defined_.push_back(static_cast<int32_t>(i));
      user_defined_first_byte_[static_cast<unsigned char>(vocab_.tokens[i][0])] = true;
    }
  std::stable_sort(user_defined_.begin(), user_defined_.end(),
                   [&](int32_t a, int32_t b) { return vocab_.tokens[a].size() > vocab_.tokens[b].size(); });

  std::vector<int32_t> eog = {vocab_.eot_id, vocab_.eom_id};
  eog.insert(eog.end(), vocab_.extra_eos_ids.begin(), vocab_.extra_eos_ids.end());
  for (int32_t id : conventional_eog_ids(vocab_)) eog.push_back(id);
  set_specials(vocab_.bos_id, vocab_.eos_id, vocab_.add_bos, vocab_.add_eos, std::move(eog));
}

std::string BpeTokenizer::description() const {
  return "byte-level BPE (" + std::string(bpe_pre_tokenizer_name(vocab_.pre_tokenizer)) + (vocab_.nfc ? ", NFC" : "") + ")";
}

void BpeTokenizer::check_id(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
    throw Error("", "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab_.size()));
}

const std::string& BpeTokenizer::piece(int32_t id) const {
  check_id(id);
  return vocab_.tokens[static_cast<size_t>(id)];
}

TokenType BpeTokenizer::token_type(int32_t id) const {
  check_id(id);
  return vocab_.types[static_cast<size_t>(id)];
}

int32_t BpeTokenizer::piece_to_id(std::string_view p) const {
  auto it = ids_.find(p);
  return it == ids_.end() ? vocab_.unk_id : it->second;
}

std::string BpeTokenizer::token_text(int32_t id) const {
  check_id(id);
  const auto i = static_cast<size_t>(id);
  const TokenType t = vocab_.types[i];
  if (t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown) return vocab_.tokens[i];
  return bpe_byte_level::decode(vocab_.tokens[i]);
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string bytes;
  for (int32_t id : ids) {
    check_id(id);
    const auto i = static_cast<size_t>(id);
    const TokenType t = vocab_.types[i];
    if (t == TokenType::kControl) continue;
    if (t == TokenType::kUserDefined || t == TokenType::kUnknown) bytes += vocab_.tokens[i];
    else bytes += bpe_byte_level::decode(vocab_.tokens[i]);
  }
  return spm_utf8::repair(bytes);
}

size_t BpeTokenizer::match_user_defined(std::string_view s, int32_t& id) const {
  if (s.empty() || !user_defined_first_byte_[static_cast<unsigned char>(s[0])]) return 0;
  for (int32_t u : user_defined_) {
    const std::string& t = vocab_.tokens[static_cast<size_t>(u)];
    if (s.starts_with(t)) {
      id = u;
      return t.size();
    }
  }
  return 0;
}

std::vector<int32_t> BpeTokenizer::encode_text(std::string_view text) const {
  std::vector<int32_t> out;
  Scratch scratch(vocab_.pre_tokenizer);
  size_t fragment = 0;
  if (!user_defined_.empty()) {
    for (size_t i = 0; i < text.size();) {
      int32_t id = -1;
      const size_t len = match_user_defined(text.substr(i), id);
      if (len == 0) {
        ++i;
        continue;
      }
      encode_fragment(text.substr(fragment, i - fragment), scratch, out);
      out.push_back(id);
      i += len;
      fragment = i;
    }
  }
  encode_fragment(text.substr(fragment), scratch, out);
  return out;
}

void BpeTokenizer::encode_fragment(std::string_view text, Scratch& s, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string normalized;
  if (vocab_.nfc) {
    normalized = bpe_unicode::nfc(text);
    text = normalized;
  }
  s.words.clear();
  s.splitter.split(text, s.words);
  for (std::string_view w : s.words) encode_word(w, s, out);
}

void BpeTokenizer::encode_word(std::string_view bytes, Scratch& s, std::vector<int32_t>& out) const {
  if (bytes.empty()) return;
  if (vocab_.ignore_merges) {
    s.encoded.clear();
    const auto& alphabet = bpe_byte_level::alphabet();
    for (unsigned char b : bytes) s.encoded += alphabet.utf8_of_byte[b];
    if (auto it = ids_.find(s.encoded); it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const auto n = static_cast<int32_t>(bytes.size());
  s.symbols.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) s.symbols[i] = {byte_ids_[static_cast<unsigned char>(bytes[i])], i - 1, i + 1 < n ? i + 1 : -1};
  s.heap.clear();
  const auto greater = [](const Scratch::Candidate& a, const Scratch::Candidate& b) { return a > b; };
  const auto consider = [&](int32_t left) {
    if (left < 0) return;
    const auto& l = s.symbols[left];
    if (l.next < 0 || l.id < 0) return;
    const int32_t right_id = s.symbols[l.next].id;
    if (right_id < 0) return;
    auto it = merges_.find(pair_key(l.id, right_id));
    if (it == merges_.end()) return;
    s.heap.push_back({it->second.rank, left, l.id, right_id, it->second.result});
    std::push_heap(s.heap.begin(), s.heap.end(), greater);
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), greater);
    const Scratch::Candidate c = s.heap.back();
    s.heap.pop_back();
    auto& l = s.symbols[c.left];
    // Stale when either side has changed since the pair was queued.
    if (l.id != c.left_id || l.next < 0 || s.symbols[l.next].id != c.right_id) continue;
    auto& r = s.symbols[l.next];
    l.id = c.result;
    l.next = r.next;
    if (r.next >= 0) s.symbols[r.next].prev = c.left;
    r.id = -2;
    consider(l.prev);
    consider(c.left);
  }
  for (int32_t i = 0; i >= 0; i = s.symbols[i].next) {
    const int32_t id = s.symbols[i].id;
    if (id >= 0) out.push_back(id);
    else if (vocab_.unk_id >= 0) out.push_back(vocab_.unk_id);
  }
}

}  // namespace lmforge
