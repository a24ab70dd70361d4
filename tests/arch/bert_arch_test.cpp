// arch/bert: config.json rules, the tensor table's name mapping and shape checks, and the
// sentence-transformers pooling rules, each refusal naming what is wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/bert/bert_config.h"
#include "arch/bert/bert_pooling.h"
#include "arch/bert/bert_tensors.h"
#include "core/error.h"

namespace lmforge {
namespace {

using json = nlohmann::json;

json good_config() {
  return {{"model_type", "bert"}, {"hidden_act", "gelu"}, {"vocab_size", 30}, {"hidden_size", 8},
          {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"intermediate_size", 16},
          {"max_position_embeddings", 16}, {"type_vocab_size", 2}, {"layer_norm_eps", 1e-12}};
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BertConfig, ReadsSizesAndDefaults) {
  json j = good_config();
  j.erase("type_vocab_size");
  j.erase("layer_norm_eps");
  j.erase("max_position_embeddings");
  const BertConfig c = bert_config_from_json(j, "config.json");
  EXPECT_EQ(c.hidden_size, 8u);
  EXPECT_EQ(c.head_dim(), 4u);
  EXPECT_EQ(c.type_vocab_size, 2u);
  EXPECT_EQ(c.max_position_embeddings, 512u);
  EXPECT_FLOAT_EQ(c.layer_norm_eps, 1e-12f);
  EXPECT_TRUE(is_bert_config_json(j));
  EXPECT_FALSE(is_bert_config_json(json{{"model_type", "llama"}}));
}

TEST(BertConfig, RefusesWhatTheEncoderDoesNotCompute) {
  auto with = [](const char* key, json value) {
    json j = good_config();
    j[key] = value;
    return error_of([&] { bert_config_from_json(j, "config.json"); });
  };
  EXPECT_NE(with("hidden_act", "gelu_new").find("'hidden_act' = \"gelu_new\" is not supported"), std::string::npos);
  EXPECT_NE(with("hidden_act", "relu").find("hidden_act"), std::string::npos);
  EXPECT_NE(with("model_type", "roberta").find("model_type"), std::string::npos);
  EXPECT_NE(with("position_embedding_type", "relative_key").find("position_embedding_type"), std::string::npos);
  EXPECT_NE(with("is_decoder", true).find("is_decoder"), std::string::npos);
  EXPECT_NE(with("add_cross_attention", true).find("cross"), std::string::npos);
  EXPECT_NE(with("num_attention_heads", 3).find("not a multiple"), std::string::npos);
  EXPECT_NE(with("hidden_size", -8).find("'hidden_size'"), std::string::npos);
  EXPECT_NE(with("hidden_size", "8").find("must be an integer"), std::string::npos);
  EXPECT_NE(with("num_hidden_layers", 100000).find("outside 1..1024"), std::string::npos);
  EXPECT_NE(with("layer_norm_eps", 0).find("layer_norm_eps"), std::string::npos);
  json j = good_config();
  j.erase("hidden_act");
  EXPECT_NE(error_of([&] { bert_config_from_json(j, "config.json"); }).find("missing 'hidden_act'"), std::string::npos);
  EXPECT_NE(error_of([&] { bert_config_from_json(json::array(), "config.json"); }).find("not a JSON object"),
            std::string::npos);
}

std::vector<TensorInfo> checkpoint(const BertConfig& c, const std::string& prefix) {
  std::vector<TensorInfo> t;
  for (const BertTensorSpec& s : bert_tensor_specs(c)) t.push_back(TensorInfo{.name = prefix + s.hf, .shape = s.shape});
  return t;
}

TEST(BertTensors, MapsWithAndWithoutPrefixAndIgnoresHeads) {
  const BertConfig c = bert_config_from_json(good_config(), "config.json");
  const auto specs = bert_tensor_specs(c);
  ASSERT_EQ(specs.size(), kBertEmbeddingTensors + 2 * kBertTensorsPerLayer);
  EXPECT_EQ(specs[kBertEmbeddingTensors].gguf, "blk.0.attn_q.weight");
  EXPECT_EQ(specs.back().gguf, "blk.1.layer_output_norm.bias");
  for (const std::string prefix : {"", "bert."}) {
    auto t = checkpoint(c, prefix);
    t.push_back(TensorInfo{.name = prefix + "pooler.dense.weight", .shape = {8, 8}});
    t.push_back(TensorInfo{.name = "cls.predictions.bias", .shape = {30}});
    t.push_back(TensorInfo{.name = prefix + "embeddings.position_ids", .shape = {1, 16}});
    const BertTensorMap m = map_bert_tensors(t, c, "folder");
    EXPECT_EQ(m.prefix, prefix);
    ASSERT_EQ(m.source.size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) EXPECT_EQ(t[m.source[i]].name, prefix + specs[i].hf);
    EXPECT_TRUE(m.warnings.empty());
  }
  // TF-era LayerNorm names, and an unknown tensor (a warning, not an error).
  auto t = checkpoint(c, "");
  for (auto& x : t)
    if (x.name == "embeddings.LayerNorm.weight") x.name = "embeddings.LayerNorm.gamma";
  t.push_back(TensorInfo{.name = "extra.thing", .shape = {1}});
  const BertTensorMap m = map_bert_tensors(t, c, "folder");
  EXPECT_EQ(t[m.source[3]].name, "embeddings.LayerNorm.gamma");
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_NE(m.warnings[0].find("extra.thing"), std::string::npos);
}

TEST(BertTensors, RefusesMissingMisshapenAndDoubleSpelledTensors) {
  const BertConfig c = bert_config_from_json(good_config(), "config.json");
  auto t = checkpoint(c, "");
  t.erase(t.begin() + 10);
  EXPECT_NE(error_of([&] { map_bert_tensors(t, c, "f"); }).find("missing tensor"), std::string::npos);
  t = checkpoint(c, "");
  t[0].shape = {31, 8};
  EXPECT_NE(error_of([&] { map_bert_tensors(t, c, "f"); }).find("has shape [31, 8] but the config needs [30, 8]"),
            std::string::npos);
  t = checkpoint(c, "");
  const auto prefixed = checkpoint(c, "bert.");
  t.insert(t.end(), prefixed.begin(), prefixed.end());
  EXPECT_NE(error_of([&] { map_bert_tensors(t, c, "f"); }).find("twice"), std::string::npos);
  EXPECT_NE(error_of([&] { map_bert_tensors({}, c, "f"); }).find("no BERT word embeddings"), std::string::npos);
}

TEST(BertPooling, ModulesAndPoolingConfigs) {
  const json modules = json::parse(R"([{"type": "sentence_transformers.models.Transformer", "path": ""},
      {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"},
      {"type": "sentence_transformers.models.Normalize", "path": "2_Normalize"}])");
  const BertModules m = parse_bert_modules(modules, "modules.json");
  EXPECT_TRUE(m.has_pooling);
  EXPECT_EQ(m.pooling_dir, "1_Pooling");
  EXPECT_TRUE(m.normalize);
  EXPECT_EQ(parse_bert_pooling_config(json{{"pooling_mode_cls_token", true}}, "p", 8), Pooling::Cls);
  EXPECT_EQ(parse_bert_pooling_config(json{{"pooling_mode_mean_tokens", true}, {"word_embedding_dimension", 8}}, "p", 8),
            Pooling::Mean);
  EXPECT_EQ(parse_bert_pooling_config(json{{"pooling_mode_lasttoken", true}}, "p", 8), Pooling::Last);
  EXPECT_EQ(parse_bert_pooling_config(json{{"pooling_mode", "lasttoken"}}, "p", 8), Pooling::Last);
  auto pooling_error = [](json j) { return error_of([&] { parse_bert_pooling_config(j, "p", 8); }); };
  EXPECT_NE(pooling_error(json{{"pooling_mode_max_tokens", true}}).find("not supported"), std::string::npos);
  EXPECT_NE(pooling_error(json{{"pooling_mode_mean_tokens", true}, {"pooling_mode_cls_token", true}}).find("exactly one"),
            std::string::npos);
  EXPECT_NE(pooling_error(json::object()).find("exactly one"), std::string::npos);
  EXPECT_NE(pooling_error(json{{"pooling_mode", "max"}}).find("not supported"), std::string::npos);
  EXPECT_NE(pooling_error(json{{"pooling_mode_mean_tokens", "yes"}}).find("true or false"), std::string::npos);
  EXPECT_NE(pooling_error(json{{"pooling_mode_mean_tokens", true}, {"word_embedding_dimension", 9}}).find("hidden size 8"),
            std::string::npos);
  auto modules_error = [](const char* text) {
    return error_of([&] { parse_bert_modules(json::parse(text), "modules.json"); });
  };
  EXPECT_NE(modules_error(R"([{"type": "sentence_transformers.models.Transformer"},
      {"type": "sentence_transformers.models.Dense", "path": "2_Dense"}])").find("Dense"), std::string::npos);
  EXPECT_NE(modules_error(R"([{"type": "sentence_transformers.models.Transformer"},
      {"type": "sentence_transformers.models.Pooling", "path": "../x"}])").find("not a folder name"), std::string::npos);
  EXPECT_NE(modules_error(R"([{"type": "sentence_transformers.models.Pooling", "path": "p"}])").find("no Transformer"),
            std::string::npos);
  EXPECT_NE(modules_error(R"({"a": 1})").find("must be a list"), std::string::npos);
  EXPECT_NE(modules_error(R"([{"path": ""}])").find("\"type\""), std::string::npos);
}

}  // namespace
}  // namespace lmforge
