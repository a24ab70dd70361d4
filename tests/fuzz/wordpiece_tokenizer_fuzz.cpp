// libFuzzer harness: arbitrary bytes as text for the WordPiece tokenizer. The first byte picks
// the settings (lower-casing, accent stripping, CJK split, cleaning, a short word limit); the
// rest is encoded with and without [CLS]/[SEP] and the ids decoded back. Nothing may throw:
// every byte string is valid input (ill-formed UTF-8 becomes U+FFFD).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/wordpiece_tokenizer.h"

namespace {

lmforge::WordPieceVocab fuzz_vocab(uint8_t flags) {
  lmforge::WordPieceVocab v;
  v.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "é", "##a", "##b", "##é", "##", "ab",
              "##ab", "中", ".", "σ", "ς", "i̇", "[", "]", "##\xCC\x81"};
  v.pad_id = 0;
  v.unk_id = 1;
  v.cls_id = 2;
  v.sep_id = 3;
  v.mask_id = 4;
  v.added = {{"[MASK]", 4, true, (flags & 32) != 0, (flags & 64) != 0}, {"[CLS]", 2, true, false, false}};
  auto& s = v.settings;
  s.lowercase = (flags & 1) != 0;
  if (flags & 2) s.strip_accents = (flags & 4) != 0;
  s.tokenize_chinese_chars = (flags & 8) != 0;
  s.clean_text = (flags & 16) != 0;
  s.max_input_chars_per_word = (flags & 128) ? 3 : 100;
  s.model_max_length = 16;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const lmforge::WordPieceTokenizer tok(fuzz_vocab(data[0]));
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto ids = tok.encode(text);
  const auto model_ids = tok.encode_for_model(text, /*truncate=*/true);
  if (model_ids.size() > 16 || model_ids.front() != 2 || model_ids.back() != 3) __builtin_trap();
  volatile size_t sink = tok.decode(ids).size() + tok.decode(model_ids, true).size();
  (void)sink;
  return 0;
}
