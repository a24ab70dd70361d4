// Byte-level BPE on small hand-made vocabularies: merge order, ignore_merges, added tokens,
// decode, and the tokenizer.json reader's refusals. Real vocabularies are oracle.bpe_tokenizer's.
#include "tokenizer/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/bpe_json.h"
#include "tokenizer/bpe_pretokenizer.h"

namespace lmforge {
namespace {

using nlohmann::json;

// The 256 byte characters, then the merges' results, then two added tokens.
json tiny_tokenizer_json() {
  json vocab = json::object();
  std::vector<std::string> bytes;
  for (unsigned b = 0; b < 256; ++b) {
    char32_t c = 0;
    {
      // GPT-2's alphabet, spelled out independently of bpe_byte_level.h.
      static std::vector<char32_t> table = [] {
        std::vector<char32_t> t(256);
        char32_t next = 256;
        for (unsigned x = 0; x < 256; ++x) {
          const bool printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
          t[x] = printable ? x : next++;
        }
        return t;
      }();
      c = table[b];
    }
    std::string u;
    if (c < 0x80) u.push_back(static_cast<char>(c));
    else {
      u.push_back(static_cast<char>(0xC0 | (c >> 6)));
      u.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
    vocab[u] = b;
  }
  int id = 256;
  for (const char* t : {"ab", "bc", "abc", "\xC4\xA0" "a", "aa"}) vocab[t] = id++;
  json j = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"a b", json::array({"b", "c"}), "ab c", "\xC4\xA0 a", "a a"})}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"added_tokens", json::array({{{"id", 261}, {"content", "<|bos|>"}, {"special", true}},
                                    {{"id", 262}, {"content", "<tool>"}, {"special", false}}})},
      {"post_processor", {{"type", "TemplateProcessing"},
                          {"single", json::array({{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})}}},
  };
  return j;
}

BpeTokenizer tiny() { return BpeTokenizer(bpe_vocab_from_tokenizer_json(tiny_tokenizer_json(), "tiny.json"), "tiny.json"); }

TEST(BpeTokenizer, MergesByRankLeftmostFirst) {
  const BpeTokenizer tok = tiny();
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{258}));                // a b -> ab, ab c -> abc
  EXPECT_EQ(tok.encode("bc"), (std::vector<int32_t>{257}));
  EXPECT_EQ(tok.encode("aaa"), (std::vector<int32_t>{260, 'a'}));          // leftmost pair first
  EXPECT_EQ(tok.encode(" a"), (std::vector<int32_t>{259}));
  EXPECT_EQ(tok.encode("x"), (std::vector<int32_t>{'x'}));
}

TEST(BpeTokenizer, BosFromThePostProcessorAndAddedTokens) {
  const BpeTokenizer tok = tiny();
  EXPECT_TRUE(tok.add_bos());
  EXPECT_EQ(tok.bos_id(), 261);
  EXPECT_EQ(tok.encode("ab", true), (std::vector<int32_t>{261, 256}));
  // Control-token text is plain text unless parse_special; user-defined tokens always match.
  EXPECT_NE(tok.encode("<|bos|>").size(), 1u);
  EXPECT_EQ(tok.encode("<|bos|>", false, false, true), (std::vector<int32_t>{261}));
  EXPECT_EQ(tok.encode("ab<tool>ab"), (std::vector<int32_t>{256, 262, 256}));
}

TEST(BpeTokenizer, DecodeReassemblesBytes) {
  const BpeTokenizer tok = tiny();
  const std::string text = "h\xC3\xA9llo \xF0\x9F\xA6\x99 abc\n";
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
  EXPECT_EQ(tok.decode(std::vector<int32_t>{261, 256, 262}), "ab<tool>");   // control tokens invisible
  EXPECT_EQ(tok.decode(std::vector<int32_t>{0xC3}), "\xEF\xBF\xBD");         // half a character
  EXPECT_EQ(tok.token_text(0xC3), "\xC3");
  EXPECT_THROW(tok.decode(std::vector<int32_t>{263}), Error);
}

void expect_refused(const json& j, const std::string& words) {
  try {
    bpe_vocab_from_tokenizer_json(j, "bad.json");
    ADD_FAILURE() << "accepted; expected an error mentioning " << words;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizerJson, RefusesWhatItCannotReproduce) {
  json j = tiny_tokenizer_json();
  j["model"]["type"] = "Unigram";
  expect_refused(j, "Unigram");

  j = tiny_tokenizer_json();
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect_refused(j, "Metaspace");

  j = tiny_tokenizer_json();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"Regex", "\\p{L}+|\\s+"}}}, {"behavior", "Isolated"}, {"invert", false}},
                                                       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  expect_refused(j, "\\p{L}+|\\s+");

  j = tiny_tokenizer_json();
  j["model"]["merges"].push_back("a zz");
  expect_refused(j, "'zz'");

  j = tiny_tokenizer_json();
  j["model"]["merges"].push_back("c a");  // "ca" is not a token
  expect_refused(j, "'ca'");

  j = tiny_tokenizer_json();
  j["model"]["vocab"]["dup"] = 5;  // id 5 is a byte's
  expect_refused(j, "duplicate vocabulary entries");

  j = tiny_tokenizer_json();
  j["added_tokens"].push_back({{"id", 300}, {"content", "ab"}, {"special", true}});
  expect_refused(j, "duplicate vocabulary entries");

  j = tiny_tokenizer_json();
  j["normalizer"] = {{"type", "NFKC"}};
  expect_refused(j, "NFKC");

  j = tiny_tokenizer_json();
  j["model"]["byte_fallback"] = true;
  expect_refused(j, "byte_fallback");

  j = tiny_tokenizer_json();
  j["added_tokens"].push_back({{"id", 2000000000}, {"content", "<far>"}, {"special", true}});
  expect_refused(j, "out of range");
}

TEST(BpeTokenizerJson, WritesWhatItReads) {
  const BpeVocab v = bpe_vocab_from_tokenizer_json(tiny_tokenizer_json(), "tiny.json");
  const BpeVocab back = bpe_vocab_from_tokenizer_json(bpe_vocab_to_tokenizer_json(v), "back.json");
  EXPECT_EQ(back.tokens, v.tokens);
  EXPECT_EQ(back.types, v.types);
  EXPECT_EQ(back.merges, v.merges);
  EXPECT_EQ(back.pre_tokenizer, v.pre_tokenizer);
  EXPECT_EQ(back.bos_id, v.bos_id);
  EXPECT_EQ(back.add_bos, v.add_bos);
}

// Llama 3's first tokenizer.json: Llama 3's Split regex and a ByteLevel post-processor, which
// says nothing about BOS. llama.cpp's converter then writes no add_bos_token and llama.cpp adds
// BOS for llama-bpe; lmforge must decide alike (and its converter write no key either).
json llama3_split(json j, json post) {
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", json::array({{{"type", "Split"},
                                                        {"pattern", {{"Regex", std::string(bpe_pre_tokenizer_regex(BpePreTokenizer::kLlama3))}}},
                                                        {"behavior", "Isolated"}, {"invert", false}},
                                                       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  j["post_processor"] = std::move(post);
  return j;
}

TEST(BpeTokenizerJson, BosUnstatedFollowsTheLlamaBpeDefault) {
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  const BpeVocab llama3 = bpe_vocab_from_tokenizer_json(llama3_split(tiny_tokenizer_json(), byte_level), "l3.json");
  EXPECT_FALSE(llama3.add_bos_stated);
  EXPECT_TRUE(llama3.add_bos);
  // The same vocabulary with the gpt-2 pre-tokenizer: llama.cpp adds nothing there.
  json gpt2 = tiny_tokenizer_json();
  gpt2["post_processor"] = byte_level;
  const BpeVocab g = bpe_vocab_from_tokenizer_json(gpt2, "g.json");
  EXPECT_FALSE(g.add_bos_stated);
  EXPECT_FALSE(g.add_bos);
  // A template states it, with or without a BOS.
  const BpeVocab templ = bpe_vocab_from_tokenizer_json(llama3_split(tiny_tokenizer_json(), tiny_tokenizer_json()["post_processor"]), "t.json");
  EXPECT_TRUE(templ.add_bos_stated);
  EXPECT_TRUE(templ.add_bos);
  // No BOS on a llama-bpe vocabulary survives the trip through tokenizer.json.
  BpeVocab none = llama3;
  none.add_bos = false;
  const BpeVocab back = bpe_vocab_from_tokenizer_json(bpe_vocab_to_tokenizer_json(none), "back.json");
  EXPECT_TRUE(back.add_bos_stated);
  EXPECT_FALSE(back.add_bos);
}

}  // namespace
}  // namespace lmforge
