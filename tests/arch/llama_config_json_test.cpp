#include "arch/llama/llama_config_json.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace lmforge {
namespace {

using json = nlohmann::json;

json llama7b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 11008, "max_position_embeddings": 2048,
    "num_attention_heads": 32, "num_hidden_layers": 32, "pad_token_id": 0, "rms_norm_eps": 1e-06,
    "tie_word_embeddings": false, "torch_dtype": "float16", "vocab_size": 32000})");
}

TEST(LlamaConfigJsonTest, ReadsLlama7b) {
  auto c = llama_config_from_json(llama7b(), "config.json");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 4096u);
  EXPECT_EQ(c.intermediate_size, 11008u);
  EXPECT_EQ(c.num_hidden_layers, 32u);
  EXPECT_EQ(c.num_attention_heads, 32u);
  EXPECT_EQ(c.num_key_value_heads, 32u);
  EXPECT_FALSE(c.has_num_key_value_heads);
  EXPECT_EQ(c.head_dim, 128u);
  EXPECT_FALSE(c.has_head_dim);
  EXPECT_FALSE(c.has_rope_theta);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_EQ(c.bos_token_id, 1u);
  EXPECT_EQ(c.eos_token_id, 2u);
  EXPECT_EQ(c.pad_token_id, 0u);
  EXPECT_FALSE(c.unk_token_id);
  EXPECT_EQ(c.torch_dtype, "float16");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.rope_scaling_linear);
}

TEST(LlamaConfigJsonTest, ReadsGqaTiedAndRopeScaling) {
  auto j = llama7b();
  j["architectures"] = {"MistralForCausalLM"};
  j["num_key_value_heads"] = 8;
  j["rope_theta"] = 500000.0;
  j["tie_word_embeddings"] = true;
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 4}};
  j["eos_token_id"] = {2, 3};
  auto c = llama_config_from_json(j, "config.json");
  EXPECT_EQ(c.architecture, "MistralForCausalLM");
  EXPECT_EQ(c.num_key_value_heads, 8u);
  EXPECT_TRUE(c.has_num_key_value_heads);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_TRUE(c.has_rope_theta);
  EXPECT_TRUE(c.tie_word_embeddings);
  ASSERT_TRUE(c.rope_scaling_linear);
  EXPECT_EQ(*c.rope_scaling_linear, 4.0f);
  EXPECT_EQ(c.eos_token_id, 2u);

  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.5}};
  EXPECT_EQ(*llama_config_from_json(j, "c").rope_scaling_linear, 2.5f);
  j["rope_scaling"] = nullptr;
  EXPECT_FALSE(llama_config_from_json(j, "c").rope_scaling_linear);
}

TEST(LlamaConfigJsonTest, ExplicitHeadDim) {
  auto j = llama7b();
  j["hidden_size"] = 5120;
  j["head_dim"] = 128;  // 32 * 128 != 5120 is allowed when head_dim is explicit
  auto c = llama_config_from_json(j, "c");
  EXPECT_EQ(c.head_dim, 128u);
  EXPECT_TRUE(c.has_head_dim);
}

void expect_bad(const json& j, const std::string& needle) {
  try {
    llama_config_from_json(j, "config.json");
    ADD_FAILURE() << "accepted, expected '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(e.file(), "config.json");
  }
}

TEST(LlamaConfigJsonTest, RejectsBadConfigs) {
  auto with = [](const char* key, json v) {
    auto j = llama7b();
    if (v.is_discarded())
      j.erase(key);
    else
      j[key] = std::move(v);
    return j;
  };
  const json erase = json(json::value_t::discarded);
  expect_bad(json::array(), "not a JSON object");
  expect_bad(with("architectures", {"GPT2LMHeadModel"}), "not supported");
  expect_bad(with("architectures", json::array()), "non-empty list");
  expect_bad(with("hidden_size", erase), "missing 'hidden_size'");
  expect_bad(with("hidden_size", "4096"), "must be an integer");
  expect_bad(with("hidden_size", 4096.0), "must be an integer");
  expect_bad(with("hidden_size", 0), "outside");
  expect_bad(with("hidden_size", -4096), "outside");
  expect_bad(with("hidden_size", 1u << 21), "outside");
  expect_bad(with("hidden_size", 4095), "not a multiple of num_attention_heads");
  expect_bad(with("num_key_value_heads", 5), "not a multiple of num_key_value_heads");
  expect_bad(with("num_key_value_heads", 64), "outside");
  expect_bad(with("num_hidden_layers", 1 << 20), "outside");
  expect_bad(with("vocab_size", 0), "outside");
  expect_bad(with("rms_norm_eps", 0), "positive");
  expect_bad(with("rms_norm_eps", "1e-6"), "must be a number");
  expect_bad(with("rope_theta", -1), "positive");
  expect_bad(with("rope_scaling", {{"type", "yarn"}, {"factor", 4}}), "rope_scaling type 'yarn'");
  expect_bad(with("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8}}), "'llama3'");
  expect_bad(with("rope_scaling", {{"type", "linear"}}), "no 'factor'");
  expect_bad(with("rope_scaling", {{"type", "linear"}, {"factor", 0}}), "positive");
  expect_bad(with("rope_scaling", 2), "must be an object");
  expect_bad(with("tie_word_embeddings", 1), "true or false");
  expect_bad(with("bos_token_id", 32000), "outside");
  expect_bad(with("eos_token_id", json::array()), "empty list");
  expect_bad(with("head_dim", 127), "odd");
  auto no_arch = with("architectures", erase);
  no_arch["model_type"] = "gpt2";
  expect_bad(no_arch, "neither");
}

TEST(LlamaConfigJsonTest, RoundTrip) {
  auto j = llama7b();
  j["num_key_value_heads"] = 4;
  j["rope_theta"] = 1e6;
  j["rms_norm_eps"] = 1e-5;
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2}};
  j["tie_word_embeddings"] = true;
  auto c = llama_config_from_json(j, "c");
  auto out = llama_config_to_json(c);
  EXPECT_EQ(out["rms_norm_eps"].get<double>(), 1e-5);  // shortest float text, not 9.9999997e-06
  EXPECT_EQ(out["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(out["num_key_value_heads"], 4);
  EXPECT_FALSE(out.contains("head_dim"));
  auto c2 = llama_config_from_json(out, "c2");
  EXPECT_EQ(c2.vocab_size, c.vocab_size);
  EXPECT_EQ(c2.hidden_size, c.hidden_size);
  EXPECT_EQ(c2.num_key_value_heads, c.num_key_value_heads);
  EXPECT_EQ(c2.head_dim, c.head_dim);
  EXPECT_EQ(c2.rope_theta, c.rope_theta);
  EXPECT_EQ(c2.rms_norm_eps, c.rms_norm_eps);
  EXPECT_EQ(c2.rope_scaling_linear, c.rope_scaling_linear);
  EXPECT_EQ(c2.tie_word_embeddings, c.tie_word_embeddings);
  EXPECT_EQ(c2.bos_token_id, c.bos_token_id);
  EXPECT_EQ(c2.eos_token_id, c.eos_token_id);
  EXPECT_EQ(c2.pad_token_id, c.pad_token_id);
  EXPECT_EQ(c2.torch_dtype, c.torch_dtype);
}

}  // namespace
}  // namespace lmforge
