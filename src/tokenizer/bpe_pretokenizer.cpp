#include "tokenizer/bpe_pretokenizer.h"

#include <limits>
#include <string>

namespace lmforge {

namespace {

using bpe_unicode::CharClass;

constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

constexpr size_t kUnlimited = std::numeric_limits<size_t>::max();

char32_t ascii_lower(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

bool is_cr_lf(char32_t c) { return c == '\r' || c == '\n'; }

// Length of the contraction ('s 't 'm 'd 're 've 'll) at `pos`, 0 when there is none; the
// letters compared in ASCII lower case with `ignore_case` (Llama 3's (?i:...)), else as they are.
size_t contraction_length(const std::u32string& cp, size_t pos, size_t e, bool ignore_case) {
  if (cp[pos] != '\'' || pos + 1 >= e) return 0;
  const auto letter = [&](size_t i) { return ignore_case ? ascii_lower(cp[i]) : cp[i]; };
  const char32_t n1 = letter(pos + 1);
  if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return 2;
  if (pos + 2 >= e) return 0;
  const char32_t n2 = letter(pos + 2);
  return (n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l') ? 3 : 0;
}

// [^\s\p{L}\p{N}]: punctuation and everything else that is neither space, letter nor number.
bool is_symbol(CharClass k) { return k == CharClass::kOther || k == CharClass::kPunct; }

}  // namespace

std::string_view bpe_pre_tokenizer_name(BpePreTokenizer kind) {
  switch (kind) {
    case BpePreTokenizer::kLlama3: return "llama-bpe";
    case BpePreTokenizer::kQwen2: return "qwen2";
    case BpePreTokenizer::kSmollm: return "smollm";
    case BpePreTokenizer::kGpt2: return "gpt-2";
    case BpePreTokenizer::kDefault: return "default";
  }
  return "default";
}

std::optional<BpePreTokenizer> bpe_pre_tokenizer_from_name(std::string_view name) {
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return BpePreTokenizer::kLlama3;
  if (name == "qwen2") return BpePreTokenizer::kQwen2;
  if (name == "smollm") return BpePreTokenizer::kSmollm;
  if (name == "gpt-2") return BpePreTokenizer::kGpt2;
  if (name == "default") return BpePreTokenizer::kDefault;
  return std::nullopt;
}

std::optional<BpePreTokenizer> bpe_pre_tokenizer_from_regex(std::string_view regex) {
  if (regex == kLlama3Regex) return BpePreTokenizer::kLlama3;
  if (regex == kQwen2Regex) return BpePreTokenizer::kQwen2;
  if (regex == kGpt2Regex) return BpePreTokenizer::kGpt2;
  return std::nullopt;
}

std::string_view bpe_pre_tokenizer_regex(BpePreTokenizer kind) {
  if (kind == BpePreTokenizer::kLlama3) return kLlama3Regex;
  if (kind == BpePreTokenizer::kQwen2) return kQwen2Regex;
  return {};
}

void BpeWordSplitter::split(std::string_view text, std::vector<std::string_view>& words) {
  if (text.empty()) return;
  bpe_unicode::decode(text, text_);
  ranges_.assign(1, Range{0, text_.cps.size()});
  switch (kind_) {
    case BpePreTokenizer::kLlama3: run_pass(&BpeWordSplitter::llama3); break;
    case BpePreTokenizer::kQwen2: run_pass(&BpeWordSplitter::qwen2); break;
    case BpePreTokenizer::kSmollm:
      run_pass(&BpeWordSplitter::each_number);
      run_pass(&BpeWordSplitter::gpt2);
      break;
    case BpePreTokenizer::kGpt2: run_pass(&BpeWordSplitter::gpt2); break;
    case BpePreTokenizer::kDefault:
      run_pass(&BpeWordSplitter::punctuation_runs);
      run_pass(&BpeWordSplitter::gpt2);
      run_pass(&BpeWordSplitter::number_runs);
      run_pass(&BpeWordSplitter::ascii_digit_triples);
      break;
  }
  for (const Range& r : ranges_) {
    const size_t b = text_.offsets[r.begin], e = text_.offsets[r.end];
    words.push_back(text.substr(b, e - b));
  }
}

void BpeWordSplitter::run_pass(Pass pass) {
  next_.clear();
  for (const Range& r : ranges_) (this->*pass)(r, next_);
  ranges_.swap(next_);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void BpeWordSplitter::llama3_like(Range r, std::vector<Range>& out, size_t max_digits) const {
  const auto& cp = text_.cps;
  const auto& cls = text_.classes;
  const size_t e = r.end;
  size_t pos = r.begin;
  const auto emit = [&](size_t end) {
    out.push_back({pos, end});
    pos = end;
  };
  while (pos < e) {
    const char32_t c = cp[pos];
    const CharClass k = cls[pos];
    if (const size_t n = contraction_length(cp, pos, e, true)) {
      emit(pos + n);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+ : the optional character is taken when a letter follows it.
    size_t letters = k == CharClass::kLetter ? pos : e;
    if (k != CharClass::kLetter && k != CharClass::kNumber && !is_cr_lf(c) && pos + 1 < e && cls[pos + 1] == CharClass::kLetter)
      letters = pos + 1;
    if (letters < e) {
      size_t end = letters;
      while (end < e && cls[end] == CharClass::kLetter) ++end;
      emit(end);
      continue;
    }
    if (k == CharClass::kNumber) {
      size_t end = pos;
      while (end < e && end - pos < max_digits && cls[end] == CharClass::kNumber) ++end;
      emit(end);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const size_t sym = (c == ' ' && pos + 1 < e) ? pos + 1 : pos;
    if (is_symbol(cls[sym])) {
      size_t end = sym;
      while (end < e && is_symbol(cls[end])) ++end;
      while (end < e && is_cr_lf(cp[end])) ++end;
      emit(end);
      continue;
    }
    if (k == CharClass::kSpace) {
      size_t end = pos, last_cr_lf = e;
      for (; end < e && cls[end] == CharClass::kSpace; ++end)
        if (is_cr_lf(cp[end])) last_cr_lf = end;
      if (last_cr_lf < e) emit(last_cr_lf + 1);          // \s*[\r\n]+
      else if (end - pos > 1 && end < e) emit(end - 1);  // \s+(?!\S) leaves the last space to the word after it
      else emit(end);                                     // \s+
      continue;
    }
    emit(pos + 1);  // unreachable for the classes above; keeps the loop finite
  }
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void BpeWordSplitter::gpt2(Range r, std::vector<Range>& out) const {
  const auto& cp = text_.cps;
  const auto& cls = text_.classes;
  const size_t e = r.end;
  size_t pos = r.begin;
  const auto emit = [&](size_t end) {
    out.push_back({pos, end});
    pos = end;
  };
  while (pos < e) {
    const char32_t c = cp[pos];
    if (const size_t n = contraction_length(cp, pos, e, false)) {
      emit(pos + n);
      continue;
    }
    const size_t start = (c == ' ' && pos + 1 < e) ? pos + 1 : pos;
    const CharClass k = cls[start];
    if (k == CharClass::kLetter || k == CharClass::kNumber) {
      size_t end = start;
      while (end < e && cls[end] == k) ++end;
      emit(end);
      continue;
    }
    if (is_symbol(k)) {
      size_t end = start;
      while (end < e && is_symbol(cls[end])) ++end;
      emit(end);
      continue;
    }
    if (cls[pos] == CharClass::kSpace) {
      size_t end = pos;
      while (end < e && cls[end] == CharClass::kSpace) ++end;
      emit(end - pos > 1 && end < e ? end - 1 : end);
      continue;
    }
    emit(pos + 1);
  }
}

template <typename Pred>
void BpeWordSplitter::isolate(Range r, std::vector<Range>& out, Pred pred, size_t max_run) const {
  size_t gap = r.begin;  // start of the text not matched yet
  size_t pos = r.begin;
  while (pos < r.end) {
    size_t end = pos;
    while (end < r.end && end - pos < max_run && pred(end)) ++end;
    const bool whole = max_run == kUnlimited || end - pos == max_run;  // {n} needs all n
    if (end == pos || !whole) {
      ++pos;
      continue;
    }
    if (gap < pos) out.push_back({gap, pos});
    out.push_back({pos, end});
    pos = gap = end;
  }
  if (gap < r.end) out.push_back({gap, r.end});
}

void BpeWordSplitter::each_number(Range r, std::vector<Range>& out) const {
  isolate(r, out, [&](size_t i) { return text_.classes[i] == CharClass::kNumber; }, 1);
}

void BpeWordSplitter::number_runs(Range r, std::vector<Range>& out) const {
  isolate(r, out, [&](size_t i) { return text_.classes[i] == CharClass::kNumber; }, kUnlimited);
}

// [\p{P}\$\+<=>\^~\|]+
void BpeWordSplitter::punctuation_runs(Range r, std::vector<Range>& out) const {
  isolate(r, out, [&](size_t i) {
    const char32_t c = text_.cps[i];
    return text_.classes[i] == CharClass::kPunct || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|';
  }, kUnlimited);
}

// [0-9][0-9][0-9]
void BpeWordSplitter::ascii_digit_triples(Range r, std::vector<Range>& out) const {
  isolate(r, out, [&](size_t i) { return text_.cps[i] >= '0' && text_.cps[i] <= '9'; }, 3);
}

}  // namespace lmforge
