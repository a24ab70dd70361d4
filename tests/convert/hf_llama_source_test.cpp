// A Hugging Face folder read as a llama: config.json as a LlamaConfig, tensor names and shapes
// held to the llama table (warnings), and the folder as a whole-model source.
#include "convert/sources/hf_llama_source.h"

#include <gtest/gtest.h>

#include "formats/hf_folder_test_util.h"

namespace lmforge {
namespace {

using testing_hf::f32;
using testing_hf::tiny_config;
using testing_hf::tiny_tensors;

class HfLlamaSourceTest : public testing_hf::HfFolderFixture {};

TEST_F(HfLlamaSourceTest, ConfigIsReadAsALlama) {
  write_config(tiny_config());
  write_safetensors((dir_ / "model.safetensors").string(), tiny_tensors(), {}, false);
  const LlamaHfFolder f = open_llama_hf_folder(dir_.string());
  EXPECT_EQ(f.config.num_key_value_heads, 1u);
  EXPECT_EQ(f.config.head_dim, 4u);
  EXPECT_TRUE(f.files.warnings.empty()) << ::testing::PrintToString(f.files.warnings);

  auto cfg = tiny_config();
  cfg["num_attention_heads"] = 3;
  write_config(cfg);
  expect_error_from([](const std::string& d) { return open_llama_hf_folder(d); }, "not a multiple");
}

TEST_F(HfLlamaSourceTest, SingleFileTiedEmbeddingsAndShapeWarnings) {
  auto cfg = tiny_config();
  cfg["tie_word_embeddings"] = true;
  write_config(cfg);
  auto ts = tiny_tensors(false);
  ts[2] = f32("model.layers.0.self_attn.q_proj.weight", {4, 8});    // wrong rows
  ts.push_back(f32("model.layers.7.mlp.up_proj.weight", {12, 8}));  // layer past n_layer
  ts.push_back(f32("vision_tower.weight", {2}));
  write_safetensors((dir_ / "model.safetensors").string(), ts, {}, false);
  auto m = open_llama_hf_folder(dir_.string()).files;
  EXPECT_EQ(m.weights->format_description(), "safetensors");
  EXPECT_TRUE(has_warning(m.warnings,
                          "tensor 'model.layers.0.self_attn.q_proj.weight' has shape [4, 8] but "
                          "config.json implies [8, 8]"))
      << ::testing::PrintToString(m.warnings);
  EXPECT_TRUE(has_warning(m.warnings, "unexpected tensor name 'model.layers.7.mlp.up_proj.weight'"));
  EXPECT_TRUE(has_warning(m.warnings, "unexpected tensor name 'vision_tower.weight'"));
  EXPECT_FALSE(has_warning(m.warnings, "lm_head"));  // tied: no lm_head needed
  EXPECT_EQ(m.warnings.size(), 3u) << ::testing::PrintToString(m.warnings);

  cfg["tie_word_embeddings"] = false;
  write_config(cfg);
  EXPECT_TRUE(has_warning(open_llama_hf_folder(dir_.string()).files.warnings, "missing tensor 'lm_head.weight'"));
}

}  // namespace
}  // namespace lmforge
