// GGUF byte-level BPE vocabulary -> the Hugging Face tokenizer files: tokenizer.json reads back
// into the same vocabulary, tokenizer_config.json and generation_config.json carry the special
// tokens and every end-of-generation id (eos first), and what JSON cannot hold is refused.
#include "convert/hf_bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "tokenizer/bpe_json.h"

namespace lmforge {
namespace {

constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4;

std::unique_ptr<GgufReader> write(const std::vector<GgufKv>& kvs, const char* name) {
  const std::string path = (std::filesystem::path(::testing::TempDir()) / name).string();
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("llama.context_length", GgufValue::u32(4096));
  for (const auto& kv : kvs) w.set(kv.key, kv.value);
  w.write(path, true);
  return GgufReader::open(path);
}

// "a", "b", "ab" and four added tokens: BOS, <|eot_id|>, a stop token llama.cpp does not know
// by its text, and a non-special user token.
std::vector<GgufKv> vocab_keys() {
  return {
      {"tokenizer.ggml.model", GgufValue::str("gpt2")},
      {"tokenizer.ggml.pre", GgufValue::str("llama-bpe")},
      {"tokenizer.ggml.tokens", GgufValue::string_array({"a", "b", "ab", "<|begin_of_text|>", "<|eot_id|>", "<|stop|>", "<tool>"})},
      {"tokenizer.ggml.token_type", GgufValue::i32_array({kNormal, kNormal, kNormal, kControl, kControl, kControl, kUserDefined})},
      {"tokenizer.ggml.merges", GgufValue::string_array({"a b"})},
      {"tokenizer.ggml.bos_token_id", GgufValue::u32(3)},
      {"tokenizer.ggml.eos_token_id", GgufValue::u32(5)},
      {"tokenizer.ggml.eot_token_id", GgufValue::u32(4)},
      {"tokenizer.ggml.add_bos_token", GgufValue::boolean(true)},
      {"tokenizer.chat_template", GgufValue::str("{{ messages }}")},
  };
}

TEST(HfBpeTokenizer, WritesEveryFileFromTheGgufKeys) {
  auto g = write(vocab_keys(), "hf_bpe_tokenizer_test.gguf");
  ASSERT_TRUE(gguf_has_bpe_vocab(*g));
  const HfBpeTokenizerFiles f = hf_bpe_tokenizer_from_gguf(*g, "t.gguf");
  EXPECT_EQ(f.eos_ids, (std::vector<uint32_t>{5, 4}));
  EXPECT_EQ(f.generation_config["eos_token_id"], nlohmann::json::array({5, 4}));
  EXPECT_EQ(f.generation_config["bos_token_id"], 3);
  EXPECT_EQ(f.tokenizer_config["bos_token"], "<|begin_of_text|>");
  EXPECT_EQ(f.tokenizer_config["eos_token"], "<|stop|>");
  EXPECT_EQ(f.tokenizer_config["add_bos_token"], true);
  EXPECT_EQ(f.tokenizer_config["chat_template"], "{{ messages }}");
  EXPECT_EQ(f.tokenizer_config["model_max_length"], 4096);
  EXPECT_EQ(f.special_tokens_map["eos_token"], "<|stop|>");

  const BpeVocab back = bpe_vocab_from_tokenizer_json(f.tokenizer, "tokenizer.json");
  EXPECT_EQ(back.tokens, (std::vector<std::string>{"a", "b", "ab", "<|begin_of_text|>", "<|eot_id|>", "<|stop|>", "<tool>"}));
  EXPECT_EQ(back.types[4], TokenType::kControl);
  EXPECT_EQ(back.types[6], TokenType::kUserDefined);
  EXPECT_EQ(back.pre_tokenizer, BpePreTokenizer::kLlama3);
  EXPECT_TRUE(back.add_bos);
  EXPECT_EQ(back.bos_id, 3);
}

TEST(HfBpeTokenizer, UnstatedBosStaysUnstated) {
  // No tokenizer.ggml.add_bos_token: llama.cpp's pre-tokenizer default decides (BOS for
  // llama-bpe), and the folder must leave it to the same default.
  auto keys = vocab_keys();
  keys.erase(keys.begin() + 8);
  ASSERT_EQ(keys.size(), 9u);
  const HfBpeTokenizerFiles f = hf_bpe_tokenizer_from_gguf(*write(keys, "hf_bpe_unstated.gguf"), "t.gguf");
  EXPECT_FALSE(f.tokenizer_config.contains("add_bos_token"));
  EXPECT_EQ(f.tokenizer["post_processor"]["type"], "ByteLevel");
  const BpeVocab back = bpe_vocab_from_tokenizer_json(f.tokenizer, "tokenizer.json");
  EXPECT_FALSE(back.add_bos_stated);
  EXPECT_TRUE(back.add_bos);
}

TEST(HfBpeTokenizer, RefusesWhatJsonOrTokenizerJsonCannotHold) {
  auto keys = vocab_keys();
  keys[1].value = GgufValue::str("default");  // no regex to write
  EXPECT_THROW(hf_bpe_tokenizer_from_gguf(*write(keys, "hf_bpe_default.gguf"), "t.gguf"), Error);
  keys = vocab_keys();
  keys[2].value = GgufValue::string_array({"a", "b", "ab", "<|begin_of_text|>", "<|eot_id|>", "<|stop|>", "\xff\xfe"});
  try {
    hf_bpe_tokenizer_from_gguf(*write(keys, "hf_bpe_bad_utf8.gguf"), "t.gguf");
    ADD_FAILURE() << "a token that is not UTF-8 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not UTF-8"), std::string::npos) << e.what();
  }
  keys = vocab_keys();
  keys[0].value = GgufValue::str("llama");
  EXPECT_FALSE(gguf_has_bpe_vocab(*write(keys, "hf_bpe_spm.gguf")));
}

}  // namespace
}  // namespace lmforge
