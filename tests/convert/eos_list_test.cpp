// Llama 3's eos lists in GGUF keys: ids llama.cpp finds by their text need none, the first
// other one becomes tokenizer.ggml.eot_token_id, the second eom_token_id, a third is reported.
#include "convert/eos_list.h"

#include <gtest/gtest.h>

namespace lmforge {
namespace {

constexpr int32_t kNormal = 1, kControl = 3;

TEST(EosList, MergesConfigAndGenerationConfig) {
  const auto gen = nlohmann::json::parse(R"({"eos_token_id": [5, 7, 9, 1000]})");
  EXPECT_EQ(eos_list({5, 6}, gen, 100), (std::vector<uint32_t>{5, 6, 7, 9}));  // 1000 is outside
  EXPECT_EQ(eos_list({}, nlohmann::json::parse(R"({"eos_token_id": 3})"), 100), (std::vector<uint32_t>{3}));
  EXPECT_TRUE(eos_list({}, nlohmann::json(), 100).empty());
}

TEST(EosList, KeysOnlyForIdsLlamaCppCannotFindByText) {
  const std::vector<std::string> tokens = {"<unk>", "<|end_of_text|>", "<|eot_id|>", "<|stop|>", "<|halt|>", "word", "<|quit|>"};
  const std::vector<int32_t> types = {2, kControl, kControl, kControl, kControl, kNormal, kControl};
  // Llama 3.1: end_of_text is eos, eot_id is found by its text: nothing to add.
  auto r = eos_list_keys({1, 2}, tokens, types, 1u);
  EXPECT_TRUE(r.kvs.empty());
  EXPECT_TRUE(r.warnings.empty());
  // An unknown stop token becomes eot, a second eom; a third cannot be expressed.
  r = eos_list_keys({1, 3, 2, 4, 6}, tokens, types, 1u);
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "tokenizer.ggml.eot_token_id");
  EXPECT_EQ(r.kvs[0].value.as_uint(), 3u);
  EXPECT_EQ(r.kvs[1].key, "tokenizer.ggml.eom_token_id");
  EXPECT_EQ(r.kvs[1].value.as_uint(), 4u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("<|quit|>"), std::string::npos);
  // A normal piece spelling a known text is not taken for the control token.
  const std::vector<std::string> plain = {"<unk>", "</s>", "<|eot_id|>"};
  r = eos_list_keys({1, 2}, plain, {2, kControl, kNormal}, 1u);
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].value.as_uint(), 2u);
}

}  // namespace
}  // namespace lmforge
