// Llama 3 rope scaling: the per-frequency divisors against transformers' own formula (the
// values below were computed with _compute_llama3_parameters' torch expressions for Llama 3.1
// 8B's parameters), and config.json parsing of llama3 / Qwen2 variants.
#include "arch/llama/llama_rope_scaling.h"

#include <gtest/gtest.h>

#include "arch/llama/llama_config_json.h"
#include "core/error.h"

namespace lmforge {
namespace {

using json = nlohmann::json;

TEST(LlamaRopeScalingTest, Llama31FactorsMatchTransformers) {
  const Llama3RopeScaling s{8.0f, 1.0f, 4.0f, 8192};
  const auto f = llama3_rope_freq_factors(s, 500000.0f, 128, "c");
  ASSERT_EQ(f.size(), 64u);
  // transformers: ratio inv_freq / inv_freq_llama at each index.
  const std::pair<int, double> want[] = {{0, 1.0},        {28, 1.0},        {29, 1.20748389}, {30, 1.55341458},
                                         {31, 2.02631307}, {32, 2.69453025}, {33, 3.68425345}, {34, 5.25732708},
                                         {35, 8.0},        {63, 8.0}};
  for (const auto& [i, v] : want) EXPECT_NEAR(f[i], v, 1e-5 * v) << "index " << i;
}

TEST(LlamaRopeScalingTest, RefusesImpossibleParameters) {
  EXPECT_THROW(llama3_rope_freq_factors({8.0f, 4.0f, 4.0f, 8192}, 500000.0f, 128, "c"), Error);  // low == high
  EXPECT_THROW(llama3_rope_freq_factors({0.0f, 1.0f, 4.0f, 8192}, 500000.0f, 128, "c"), Error);
  EXPECT_THROW(llama3_rope_freq_factors({8.0f, 1.0f, 4.0f, 0}, 500000.0f, 128, "c"), Error);
}

json llama32_1b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009], "hidden_size": 2048, "intermediate_size": 8192,
    "max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 16,
    "num_key_value_heads": 8, "head_dim": 64, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false, "vocab_size": 128256})");
}

TEST(LlamaRopeScalingTest, ReadsLlama32Config) {
  const auto c = llama_config_from_json(llama32_1b(), "config.json");
  ASSERT_TRUE(c.rope_scaling_llama3);
  EXPECT_EQ(c.rope_scaling_llama3->factor, 32.0f);
  EXPECT_EQ(c.rope_scaling_llama3->original_max_position_embeddings, 8192u);
  ASSERT_EQ(c.rope_freq_factors.size(), 32u);
  EXPECT_EQ(c.rope_freq_factors.front(), 1.0f);
  EXPECT_EQ(c.rope_freq_factors.back(), 32.0f);
  EXPECT_FALSE(c.rope_scaling_linear);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.eos_token_id, 128001u);
  EXPECT_EQ(c.eos_token_ids, (std::vector<uint32_t>{128001, 128008, 128009}));
  EXPECT_STREQ(gguf_architecture(c), "llama");

  // Written back and read again: the same scaling, the same eos list.
  const auto c2 = llama_config_from_json(llama_config_to_json(c), "c2");
  ASSERT_TRUE(c2.rope_scaling_llama3);
  EXPECT_EQ(c2.rope_freq_factors, c.rope_freq_factors);
  EXPECT_EQ(c2.eos_token_ids, c.eos_token_ids);
}

TEST(LlamaRopeScalingTest, ReadsQwen2Config) {
  const auto j = json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "bos_token_id": 151643, "eos_token_id": 151645,
    "hidden_size": 896, "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
    "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true, "use_sliding_window": false,
    "vocab_size": 151936})");
  const auto c = llama_config_from_json(j, "config.json");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_EQ(c.sliding_window, 32768u);
  EXPECT_EQ(c.head_dim, 64u);
  EXPECT_STREQ(gguf_architecture(c), "qwen2");
  const auto c2 = llama_config_from_json(llama_config_to_json(c), "c2");
  EXPECT_EQ(c2.architecture, "Qwen2ForCausalLM");
  EXPECT_TRUE(c2.attention_bias);
  EXPECT_EQ(c2.sliding_window, 32768u);
}

void expect_bad(const json& j, const std::string& needle) {
  try {
    llama_config_from_json(j, "config.json");
    ADD_FAILURE() << "accepted, expected '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LlamaRopeScalingTest, RefusesWhatItCannotRun) {
  auto j = llama32_1b();
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  expect_bad(j, "rope_scaling type 'dynamic' is not supported");
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  expect_bad(j, "rope_scaling type 'yarn' is not supported");
  j["rope_scaling"] = {{"rope_type", "longrope"}};
  expect_bad(j, "'longrope'");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0}, {"high_freq_factor", 1.0},
                       {"original_max_position_embeddings", 8192}};
  expect_bad(j, "low_freq_factor < high_freq_factor");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}};
  expect_bad(j, "no 'original_max_position_embeddings'");
  j = llama32_1b();
  j["attention_bias"] = true;
  expect_bad(j, "'attention_bias' true");
  j = llama32_1b();
  j["mlp_bias"] = true;
  expect_bad(j, "'mlp_bias' true");
  j = llama32_1b();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["use_sliding_window"] = true;
  j["sliding_window"] = 4096;
  expect_bad(j, "sliding-window attention is not supported");
}

}  // namespace
}  // namespace lmforge
