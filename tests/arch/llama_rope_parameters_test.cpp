// config.json's newer rotary form (transformers >= 5): `rope_parameters` holding rope_theta and
// the scaling that `rope_theta` + `rope_scaling` held before. Both forms must read the same,
// a config carrying both must have them agree, and unknown types stay refused by name.
#include <gtest/gtest.h>

#include "arch/llama/llama_config_json.h"
#include "core/error.h"

namespace lmforge {
namespace {

using json = nlohmann::json;

// Llama 3.2 1B's config.json as transformers < 5 writes it.
json old_form() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009], "hidden_size": 2048, "intermediate_size": 8192,
    "max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 16,
    "num_key_value_heads": 8, "head_dim": 64, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "tie_word_embeddings": true, "vocab_size": 128256})");
}

// The same model as transformers >= 5 writes it: everything rotary inside rope_parameters.
json new_form() {
  json j = old_form();
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j["rope_parameters"] = json::parse(R"({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  return j;
}

void expect_bad(const json& j, const std::string& needle) {
  try {
    llama_config_from_json(j, "config.json");
    ADD_FAILURE() << "accepted, expected '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LlamaRopeParametersTest, ReadsAsRopeScalingAndRopeTheta) {
  const LlamaConfig a = llama_config_from_json(old_form(), "old");
  const LlamaConfig b = llama_config_from_json(new_form(), "new");
  EXPECT_TRUE(b.has_rope_theta);
  EXPECT_EQ(b.rope_theta, 500000.0f);
  ASSERT_TRUE(b.rope_scaling_llama3);
  EXPECT_EQ(b.rope_scaling_llama3->factor, 32.0f);
  EXPECT_EQ(b.rope_scaling_llama3->original_max_position_embeddings, 8192u);
  ASSERT_EQ(b.rope_freq_factors.size(), 32u);
  EXPECT_EQ(b.rope_freq_factors, a.rope_freq_factors);
  EXPECT_EQ(b.rope_freq_factors.back(), 32.0f);
  // Written back (in the older form, which every transformers version reads): the same model.
  const LlamaConfig c = llama_config_from_json(llama_config_to_json(b), "back");
  EXPECT_EQ(c.rope_freq_factors, a.rope_freq_factors);
  EXPECT_EQ(c.rope_theta, a.rope_theta);
}

TEST(LlamaRopeParametersTest, DefaultAndLinearTypes) {
  json j = new_form();
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  LlamaConfig c = llama_config_from_json(j, "c");
  EXPECT_EQ(c.rope_theta, 1000000.0f);
  EXPECT_TRUE(c.has_rope_theta);
  EXPECT_FALSE(c.rope_scaling_llama3);
  EXPECT_FALSE(c.rope_scaling_linear);
  EXPECT_TRUE(c.rope_freq_factors.empty());
  j["rope_parameters"] = {{"rope_type", "linear"}, {"rope_theta", 10000.0}, {"factor", 4.0}};
  c = llama_config_from_json(j, "c");
  ASSERT_TRUE(c.rope_scaling_linear);
  EXPECT_EQ(*c.rope_scaling_linear, 4.0f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  // rope_theta alone (rope_type absent) is the default rotation; the top-level key may repeat it.
  j["rope_parameters"] = {{"rope_theta", 250000.0}};
  j["rope_theta"] = 250000.0;
  c = llama_config_from_json(j, "c");
  EXPECT_EQ(c.rope_theta, 250000.0f);
  EXPECT_FALSE(c.rope_scaling_linear);
}

TEST(LlamaRopeParametersTest, BothFormsMustAgree) {
  json j = old_form();
  j["rope_parameters"] = new_form()["rope_parameters"];
  const LlamaConfig c = llama_config_from_json(j, "both");
  EXPECT_EQ(c.rope_freq_factors, llama_config_from_json(old_form(), "old").rope_freq_factors);

  json bad = j;
  bad["rope_theta"] = 10000.0;
  expect_bad(bad, "'rope_theta' (10000.0) and 'rope_parameters.rope_theta' (500000.0) disagree");
  bad = j;
  bad["rope_scaling"]["factor"] = 8.0;
  expect_bad(bad, "'rope_scaling'");
  expect_bad(bad, "disagree");
  bad = j;
  bad["rope_parameters"]["original_max_position_embeddings"] = 4096;
  expect_bad(bad, "disagree");
  bad = j;
  bad["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500000.0}};
  expect_bad(bad, "disagree");
  bad = j;
  bad["rope_scaling"] = {{"type", "linear"}, {"factor", 32.0}};
  expect_bad(bad, "disagree");
}

TEST(LlamaRopeParametersTest, RefusesUnknownTypesByName) {
  for (const char* type : {"yarn", "dynamic", "longrope", "ntk-by-parts"}) {
    json j = new_form();
    j["rope_parameters"] = {{"rope_type", type}, {"rope_theta", 500000.0}, {"factor", 4.0}};
    expect_bad(j, std::string("rope_parameters type '") + type + "' is not supported");
  }
  json j = new_form();
  j["rope_parameters"].erase("low_freq_factor");
  expect_bad(j, "rope_parameters type 'llama3' has no 'low_freq_factor'");
  j = new_form();
  j["rope_parameters"] = 5;
  expect_bad(j, "'rope_parameters' must be an object");
  j = new_form();
  j["rope_parameters"]["rope_theta"] = -1;
  expect_bad(j, "positive");
  // Gemma 3 style: one block per attention kind.
  j = new_form();
  j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}, {"rope_theta", 1e6}}},
                          {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}}};
  expect_bad(j, "per-layer-type rope parameters are not supported");
}

}  // namespace
}  // namespace lmforge
