// The pre-tokenizers of byte-level BPE vocabularies: how text is cut into words before merges.
//
// Each kind is one of the regex sequences published tokenizers use, implemented as exact
// hand-written matchers over Unicode classes (bpe_unicode) rather than a regex engine: the
// alternatives are tried in the regex's order with its greedy and look-ahead semantics, on
// each fragment separately (a fragment's end is the text's end for `(?!\S)`). A kind is named
// by the GGUF key tokenizer.ggml.pre (as llama.cpp names it) or recognised from the
// tokenizer.json pre_tokenizer itself (its Split regex, Digits and ByteLevel steps).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe_unicode.h"

namespace lmforge {

enum class BpePreTokenizer {
  kLlama3,   // "llama-bpe": (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kQwen2,    // "qwen2": Llama 3's with single digits (\p{N} instead of \p{N}{1,3})
  kSmollm,   // "smollm": each digit alone, then GPT-2's
  kGpt2,     // "gpt-2": 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kDefault,  // "default": llama.cpp's fallback: punctuation runs, GPT-2's, digit runs, then groups of 3 digits
};

// tokenizer.ggml.pre's name for the kind ("llama-bpe", "qwen2", "smollm", "gpt-2", "default").
std::string_view bpe_pre_tokenizer_name(BpePreTokenizer kind);
// From tokenizer.ggml.pre (llama.cpp's aliases "llama3" and "llama-v3" included); nullopt when unknown.
std::optional<BpePreTokenizer> bpe_pre_tokenizer_from_name(std::string_view name);
// The kind whose Split regex (as tokenizer.json writes it) is `regex`; nullopt when unknown.
std::optional<BpePreTokenizer> bpe_pre_tokenizer_from_regex(std::string_view regex);
// The Split regex a tokenizer.json for this kind carries; empty for kinds written with
// ByteLevel's own regex (gpt-2, smollm) and for "default".
std::string_view bpe_pre_tokenizer_regex(BpePreTokenizer kind);

// Appends the words of `text` (views into it, in order, covering it exactly).
class BpeWordSplitter {
 public:
  explicit BpeWordSplitter(BpePreTokenizer kind) : kind_(kind) {}
  void split(std::string_view text, std::vector<std::string_view>& words);

 private:
  struct Range {
    size_t begin, end;  // code point indices
  };
  using Pass = void (BpeWordSplitter::*)(Range, std::vector<Range>&) const;
  void run_pass(Pass pass);
  void llama3_like(Range r, std::vector<Range>& out, size_t max_digits) const;
  void llama3(Range r, std::vector<Range>& out) const { llama3_like(r, out, 3); }
  void qwen2(Range r, std::vector<Range>& out) const { llama3_like(r, out, 1); }
  void gpt2(Range r, std::vector<Range>& out) const;
  void each_number(Range r, std::vector<Range>& out) const;
  void number_runs(Range r, std::vector<Range>& out) const;
  void punctuation_runs(Range r, std::vector<Range>& out) const;
  void ascii_digit_triples(Range r, std::vector<Range>& out) const;
  // Cuts `r` into runs where `pred` holds (each run one range, or each character alone when
  // `single`) and the text between them.
  template <typename Pred>
  void isolate(Range r, std::vector<Range>& out, Pred pred, size_t max_run) const;

  BpePreTokenizer kind_;
  bpe_unicode::DecodedText text_;
  std::vector<Range> ranges_, next_;
};

}  // namespace lmforge
