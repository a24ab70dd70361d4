// SentencePiece BPE tokenizer on small hand-made vocabularies. The exact agreement with
// libsentencepiece on real trained models is checked by tests/oracles/check_tokenizer.py;
// these tests pin each rule on its own.
#include "tokenizer/spm_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "tokenizer/vocab.h"

namespace lmforge {
namespace {

const std::string S = "\xE2\x96\x81";  // U+2581

struct Builder {
  Vocab v;
  Builder(bool byte_fallback = true) {
    add("<unk>", 0, TokenType::kUnknown);
    add("<s>", 0, TokenType::kControl);
    add("</s>", 0, TokenType::kControl);
    v.unk_id = 0;
    v.bos_id = 1;
    v.eos_id = 2;
    v.byte_fallback = byte_fallback;
    if (byte_fallback) {
      for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        add(buf, 0, TokenType::kByte);
      }
    }
  }
  int32_t add(const std::string& p, float score, TokenType t = TokenType::kNormal) {
    v.pieces.push_back(p);
    v.scores.push_back(score);
    v.types.push_back(t);
    return static_cast<int32_t>(v.pieces.size() - 1);
  }
  int32_t byte(int b) const { return 3 + b; }
};

// A vocabulary in the shape of a trained one: single characters, then merges by score.
Builder english() {
  Builder b;
  float s = -1;
  for (const char* p : {"▁t", "he", "▁the", "▁a", "in", "▁o", "▁of", "an", "▁an", "d", "▁and", "er", "ing"})
    b.add(p, s--);
  for (const char* p : {"▁", "e", "t", "a", "o", "n", "h", "i", "s", "r", "d", "f", "g", ".", ",", "1", "2", "é"})
    b.add(p, s--);
  return b;
}

TEST(SpmTokenizer, MergesByScoreAndDecodes) {
  Builder b = english();
  SpmTokenizer tok(b.v);
  const auto ids = tok.encode("the end", false);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(tok.piece(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{S + "the", S, "e", "n", "d"}));
  EXPECT_EQ(tok.decode(ids), "the end");
  EXPECT_EQ(tok.encode("the", true).front(), 1);
  EXPECT_EQ(tok.encode("the", true, true).back(), 2);
}

TEST(SpmTokenizer, EqualScoresMergeLeftmostFirst) {
  Builder b;
  const int32_t a = b.add("a", -5), ab = b.add("ab", -1);
  b.add("ba", -1);
  b.v.add_dummy_prefix = false;
  SpmTokenizer tok(b.v);
  // "aba": "ab" and "ba" tie; the leftmost pair wins.
  EXPECT_EQ(tok.encode("aba"), (std::vector<int32_t>{ab, a}));
}

TEST(SpmTokenizer, HigherScoreBeatsPosition) {
  Builder b;
  b.add("a", -5);
  b.add("b", -5);
  const int32_t ab = b.add("ab", -3), ba = b.add("ba", -1);
  b.v.add_dummy_prefix = false;
  SpmTokenizer tok(b.v);
  const int32_t a = tok.piece_to_id("a");
  EXPECT_EQ(tok.encode("aba"), (std::vector<int32_t>{a, ba}));
  EXPECT_EQ(tok.encode("ab"), (std::vector<int32_t>{ab}));
}

TEST(SpmTokenizer, EmptyText) {
  Builder b = english();
  SpmTokenizer tok(b.v);
  EXPECT_TRUE(tok.encode("").empty());
  EXPECT_EQ(tok.encode("", true), (std::vector<int32_t>{1}));
  EXPECT_EQ(tok.normalize(""), "");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{}), "");
}

TEST(SpmTokenizer, NormalizationKeepsWhitespaceLikeLlama) {
  Builder b = english();
  SpmTokenizer tok(b.v);
  EXPECT_EQ(tok.normalize("a  b "), S + "a" + S + S + "b" + S);
  EXPECT_EQ(tok.normalize(" "), S + S);
  EXPECT_EQ(tok.normalize("\t\n"), S + "\t\n");  // only U+0020 is a space
  EXPECT_EQ(tok.normalize("a\xFF" "b"), S + "a\xEF\xBF\xBD" "b");  // bad byte -> U+FFFD
}

TEST(SpmTokenizer, RemoveExtraWhitespacesCollapses) {
  Builder b = english();
  b.v.remove_extra_whitespaces = true;
  SpmTokenizer tok(b.v);
  EXPECT_EQ(tok.normalize("   a   b  "), S + "a" + S + "b");
  EXPECT_EQ(tok.normalize("    "), "");
  EXPECT_TRUE(tok.encode("   ").empty());
  EXPECT_EQ(tok.decode(tok.encode("  the   and ")), "the and");
}

TEST(SpmTokenizer, ByteFallbackAndReassembly) {
  Builder b = english();
  SpmTokenizer tok(b.v);
  const auto ids = tok.encode("a\xE6\x97\xA5");  // "a日"
  std::vector<int32_t> want = {tok.piece_to_id(S + "a"), b.byte(0xE6), b.byte(0x97), b.byte(0xA5)};
  EXPECT_EQ(ids, want);
  EXPECT_EQ(tok.decode(ids), "a\xE6\x97\xA5");
  // A 4-byte emoji and a control character.
  EXPECT_EQ(tok.decode(tok.encode("\xF0\x9F\x98\x80\x01")), "\xF0\x9F\x98\x80\x01");
  EXPECT_EQ(tok.token_text(b.byte(0x41)), "A");
}

TEST(SpmTokenizer, IllFormedBytePiecesBecomeReplacementCharacters) {
  Builder b = english();
  SpmTokenizer tok(b.v);
  const std::string fffd = "\xEF\xBF\xBD";
  const int32_t a = tok.piece_to_id("a");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{b.byte(0xE6), b.byte(0x97), a}), fffd + fffd + "a");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{b.byte(0xC0), b.byte(0x80)}), fffd + fffd);  // overlong
  EXPECT_EQ(tok.decode(std::vector<int32_t>{b.byte(0xED), b.byte(0xA0), b.byte(0x80)}), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(tok.decode(std::vector<int32_t>{b.byte(0xF4), b.byte(0x90), b.byte(0x80), b.byte(0x80)}),
            fffd + fffd + fffd + fffd);  // above U+10FFFF
  // A run of bytes is split at each non-byte piece.
  EXPECT_EQ(tok.decode(std::vector<int32_t>{b.byte(0xC3), a, b.byte(0xA9)}), fffd + "a" + fffd);
  EXPECT_EQ(tok.decode(std::vector<int32_t>{b.byte(0xC3), b.byte(0xA9)}), "\xC3\xA9");
}

TEST(SpmTokenizer, DecodeDropsOnlyTheDummyPrefixSpace) {
  Builder b = english();
  SpmTokenizer tok(b.v);
  const int32_t sp = tok.piece_to_id(S), the = tok.piece_to_id(S + "the"), a = tok.piece_to_id("a");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{the, the}), "the the");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{1, the}), "the");  // control pieces are invisible
  EXPECT_EQ(tok.decode(std::vector<int32_t>{sp, the}), " the");  // one space was the prefix
  EXPECT_EQ(tok.decode(std::vector<int32_t>{sp, a}), "a");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{0, the}), " \xE2\x81\x87  the");  // <unk>
  EXPECT_EQ(tok.decode(std::vector<int32_t>{b.byte(0x20), the}), "  the");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{a, sp, sp}), "a  ");
  EXPECT_THROW(tok.decode(std::vector<int32_t>{-1}), Error);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{static_cast<int32_t>(b.v.size())}), Error);
}

TEST(SpmTokenizer, RoundTripsManyStrings) {
  Builder b = english();
  SpmTokenizer tok(b.v);
  const std::vector<std::string> texts = {
      "the", " the", "  the  ", "the end of the and", "a", " ", "   ", "\t", "\n\n", "a\tb\nc\r\n",
      "caf\xC3\xA9", "e\xCC\x81", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xF0\x9F\x98\x80 \xF0\x9F\x91\x8D",
      "1234567890", "x\x00y", std::string("x\0y", 3), "<s>", "</s>", "<unk>", "<0x41>",
      "\xEF\xBF\xBD", "mixed \xE6\x97\xA5 and the 12.",
  };
  for (const auto& t : texts) EXPECT_EQ(tok.decode(tok.encode(t)), t) << t;
  std::string longer;
  for (int i = 0; i < 20000; ++i) longer += (i % 7 == 0) ? "the and \xE6\x97\xA5 " : "of an ";
  EXPECT_EQ(tok.decode(tok.encode(longer, true)), longer);
  // A literal U+2581 is indistinguishable from an escaped space, as in libsentencepiece.
  EXPECT_EQ(tok.decode(tok.encode(S)), " ");
  EXPECT_EQ(tok.decode(tok.encode(S + S + "a")), "  a");
  // Ill-formed input comes back repaired, as libsentencepiece normalizes it.
  EXPECT_EQ(tok.decode(tok.encode("a\xE6\x97" "b")), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
}

TEST(SpmTokenizer, ControlTextIsPlainText) {
  Builder b = english();
  b.add("<", -50);
  b.add(">", -50);
  SpmTokenizer tok(b.v);
  for (int32_t id : tok.encode("<s></s>")) {
    EXPECT_NE(id, 1);
    EXPECT_NE(id, 2);
  }
}

TEST(SpmTokenizer, UserDefinedPiecesAreMatchedWholeAndNeverMerged) {
  Builder b = english();
  const int32_t tag = b.add("he<x>", 0, TokenType::kUserDefined);
  const int32_t shorter = b.add("he<", 0, TokenType::kUserDefined);
  SpmTokenizer tok(b.v);
  const auto ids = tok.encode("the<x>he<");
  // "▁t" cannot merge with the frozen "he<x>"; longest user-defined match first.
  EXPECT_EQ(ids, (std::vector<int32_t>{tok.piece_to_id(S + "t"), tag, shorter}));
  EXPECT_EQ(tok.decode(ids), "the<x>he<");
}

TEST(SpmTokenizer, UnusedPiecesAreSplitBack) {
  Builder b;
  b.v.add_dummy_prefix = false;
  const int32_t a = b.add("a", -5), bb = b.add("b", -5);
  b.add("c", -5);
  b.add("ab", -1, TokenType::kUnused);
  const int32_t abc = b.add("abc", -2);
  SpmTokenizer tok(b.v);
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{abc}));  // merged through the unused "ab"
  EXPECT_EQ(tok.encode("ab"), (std::vector<int32_t>{a, bb}));
  EXPECT_EQ(tok.encode("abab"), (std::vector<int32_t>{a, bb, a, bb}));
}

TEST(SpmTokenizer, WithoutByteFallbackRunsOfUnknownsAreOneToken) {
  Builder b(false);
  b.add(S, -1);
  b.add("a", -2);
  SpmTokenizer tok(b.v);
  const int32_t sp = tok.piece_to_id(S), a = tok.piece_to_id("a");
  EXPECT_EQ(tok.encode("a\xE6\x97\xA5\xE6\x9C\xAC" "a"), (std::vector<int32_t>{sp, a, 0, a}));
  EXPECT_EQ(tok.encode("xa y"), (std::vector<int32_t>{sp, 0, a, sp, 0}));
}

TEST(SpmTokenizer, RefusesBadVocabularies) {
  Builder b = english();
  Vocab v = b.v;
  v.scores.pop_back();
  EXPECT_THROW(SpmTokenizer{v}, Error);
  v = b.v;
  v.unk_id = static_cast<int32_t>(v.size());
  EXPECT_THROW(SpmTokenizer{v}, Error);
  EXPECT_THROW(SpmTokenizer{Vocab{}}, Error);
}

TEST(Vocab, FromSentencePieceModel) {
  SentencePieceModel m;
  m.model_type = 2;
  m.normalizer_name = "identity";
  m.byte_fallback = true;
  m.remove_extra_whitespaces = false;
  m.pieces = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}, {S + "a", -1, 1}};
  Vocab v = vocab_from_sentencepiece(m, "t.model");
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.pad_id, -1);
  EXPECT_TRUE(v.byte_fallback);
  EXPECT_FALSE(v.remove_extra_whitespaces);
  EXPECT_EQ(v.types[3], TokenType::kNormal);

  SentencePieceModel unigram = m;
  unigram.model_type = 1;
  EXPECT_THROW(vocab_from_sentencepiece(unigram, "t.model"), Error);
  SentencePieceModel nfkc = m;
  nfkc.normalizer_name = "nmt_nfkc";
  EXPECT_THROW(vocab_from_sentencepiece(nfkc, "t.model"), Error);
  SentencePieceModel no_unk = m;
  no_unk.pieces[0].type = 3;
  EXPECT_THROW(vocab_from_sentencepiece(no_unk, "t.model"), Error);
}

TEST(Vocab, FromGguf) {
  const std::string path = (std::filesystem::path(::testing::TempDir()) / "tokenizer_vocab_test.gguf").string();
  auto write = [&](const std::vector<GgufKv>& kvs) {
    GgufWriter w;
    w.set("general.architecture", GgufValue::str("llama"));
    for (const auto& kv : kvs) w.set(kv.key, kv.value);
    w.write(path, true);
    return GgufReader::open(path);
  };
  const std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "<0x41>", S + "a", "a"};
  std::vector<GgufKv> kvs = {
      {"tokenizer.ggml.model", GgufValue::str("llama")},
      {"tokenizer.ggml.tokens", GgufValue::string_array(tokens)},
      {"tokenizer.ggml.scores", GgufValue::f32_array({0, 0, 0, 0, -1, -2})},
      {"tokenizer.ggml.token_type", GgufValue::i32_array({2, 3, 3, 6, 1, 1})},
      {"tokenizer.ggml.bos_token_id", GgufValue::u32(1)},
      {"tokenizer.ggml.eos_token_id", GgufValue::u32(2)},
  };
  {
    auto g = write(kvs);
    Vocab v = vocab_from_gguf(*g, path);
    EXPECT_EQ(v.size(), 6u);
    EXPECT_TRUE(v.byte_fallback);
    EXPECT_TRUE(v.add_dummy_prefix);
    EXPECT_FALSE(v.remove_extra_whitespaces);
    EXPECT_EQ(v.bos_id, 1);
    SpmTokenizer tok(v);
    EXPECT_EQ(tok.encode("a", true), (std::vector<int32_t>{1, 4}));
    // "▁" is not a piece and its bytes have no byte pieces here: each becomes <unk>.
    EXPECT_EQ(tok.encode("A"), (std::vector<int32_t>{0, 0, 0, 3}));
  }
  {
    auto bad = kvs;
    bad.push_back({"tokenizer.ggml.add_space_prefix", GgufValue::boolean(false)});
    bad.push_back({"tokenizer.ggml.add_bos_token", GgufValue::boolean(false)});
    auto g = write(bad);
    Vocab v = vocab_from_gguf(*g, path);
    EXPECT_FALSE(v.add_dummy_prefix);
    EXPECT_FALSE(v.add_bos);
  }
  {
    auto bad = kvs;
    bad[2].value = GgufValue::f32_array({0, 0});
    auto g = write(bad);
    EXPECT_THROW(vocab_from_gguf(*g, path), Error);
  }
  {
    auto bad = kvs;
    bad[4].value = GgufValue::u32(99);
    auto g = write(bad);
    EXPECT_THROW(vocab_from_gguf(*g, path), Error);
  }
  {
    auto bad = kvs;
    bad[0].value = GgufValue::str("gpt2");
    auto g = write(bad);
    EXPECT_THROW(vocab_from_gguf(*g, path), Error);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lmforge
