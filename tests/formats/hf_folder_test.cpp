#include "formats/hf_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/safetensors_writer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A tiny GQA llama: vocab 16, hidden 8, 2 heads of 4, 1 kv head, ff 12, 2 layers.
json tiny_config() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", 16},
          {"hidden_size", 8},
          {"intermediate_size", 12},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"num_key_value_heads", 1},
          {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", false},
          {"torch_dtype", "float32"}};
}

TensorToWrite f32(const std::string& name, std::vector<uint64_t> shape) {
  TensorToWrite t;
  t.info.name = name;
  t.info.dtype = DType::F32;
  t.info.shape = std::move(shape);
  t.info.nbytes = t.info.numel() * 4;
  const uint64_t n = t.info.nbytes;
  t.produce = [n] { return TensorBytes(std::vector<uint8_t>(n, 0x3f)); };
  return t;
}

std::vector<TensorToWrite> tiny_tensors(bool with_lm_head = true) {
  std::vector<TensorToWrite> ts = {f32("model.embed_tokens.weight", {16, 8})};
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    ts.push_back(f32(p + "input_layernorm.weight", {8}));
    ts.push_back(f32(p + "self_attn.q_proj.weight", {8, 8}));
    ts.push_back(f32(p + "self_attn.k_proj.weight", {4, 8}));
    ts.push_back(f32(p + "self_attn.v_proj.weight", {4, 8}));
    ts.push_back(f32(p + "self_attn.o_proj.weight", {8, 8}));
    ts.push_back(f32(p + "post_attention_layernorm.weight", {8}));
    ts.push_back(f32(p + "mlp.gate_proj.weight", {12, 8}));
    ts.push_back(f32(p + "mlp.up_proj.weight", {12, 8}));
    ts.push_back(f32(p + "mlp.down_proj.weight", {8, 12}));
  }
  ts.push_back(f32("model.norm.weight", {8}));
  if (with_lm_head) ts.push_back(f32("lm_head.weight", {16, 8}));
  return ts;
}

class HfFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lmforge_hf_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_text(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  void write_config(const json& j) { write_text("config.json", j.dump(2)); }
  json read_index() {
    std::ifstream f(dir_ / "model.safetensors.index.json");
    return json::parse(f);
  }
  void write_index(const json& j) { write_text("model.safetensors.index.json", j.dump(2)); }

  void expect_error(const std::string& needle) {
    try {
      open_hf_folder(dir_.string());
      ADD_FAILURE() << "no error, expected '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }

  bool has_warning(const HfModel& m, const std::string& needle) {
    return std::any_of(m.warnings.begin(), m.warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  }

  fs::path dir_;
};

TEST_F(HfFolderTest, ReadsShardedSafetensorsFolder) {
  write_config(tiny_config());
  auto files =
      write_safetensors_sharded(dir_.string(), tiny_tensors(), {{"format", "pt"}}, 1000, false);
  ASSERT_GT(files.size(), 2u);
  // A one-piece tokenizer.model: pieces { piece: "<unk>" type: UNKNOWN }, unk_id 0, no bos/eos.
  const uint8_t tok[] = {
      0x0A, 0x09, 0x0A, 0x05, '<',  'u',  'n',  'k',  '>', 0x18,
      0x02, 0x12, 0x06, 0xC8, 0x02, 0x00, 0xD0, 0x02, 0x00};  // trainer_spec{bos_id:0 eos_id:0}
  std::ofstream(dir_ / "tokenizer.model", std::ios::binary)
      .write(reinterpret_cast<const char*>(tok), sizeof tok);
  write_text("tokenizer_config.json", R"({"add_bos_token": true})");
  write_text("generation_config.json", R"({"bos_token_id": 1})");
  write_text("README.md", "# tiny");
  write_text("notes.bin", "x");

  auto m = open_hf_folder(dir_.string());
  EXPECT_EQ(m.config.num_key_value_heads, 1u);
  EXPECT_EQ(m.config.head_dim, 4u);
  EXPECT_EQ(m.weights->tensors().size(), tiny_tensors().size());
  EXPECT_GE(m.weights->find("lm_head.weight"), 0);
  auto b = m.weights->read(static_cast<size_t>(m.weights->find("lm_head.weight")));
  EXPECT_EQ(b.size(), 16u * 8 * 4);
  ASSERT_TRUE(m.tokenizer);
  EXPECT_EQ(m.tokenizer->pieces.at(0).piece, "<unk>");
  EXPECT_EQ(m.tokenizer_config["add_bos_token"], true);
  EXPECT_EQ(m.generation_config["bos_token_id"], 1);
  EXPECT_TRUE(m.special_tokens_map.is_null());
  EXPECT_TRUE(std::count(m.files_used.begin(), m.files_used.end(), "model.safetensors.index.json"));
  EXPECT_TRUE(has_warning(m, "unused file 'notes.bin'")) << ::testing::PrintToString(m.warnings);
  EXPECT_FALSE(has_warning(m, "README"));
  EXPECT_EQ(m.warnings.size(), 1u) << ::testing::PrintToString(m.warnings);
}

TEST_F(HfFolderTest, SingleFileTiedEmbeddingsAndShapeWarnings) {
  auto cfg = tiny_config();
  cfg["tie_word_embeddings"] = true;
  write_config(cfg);
  auto ts = tiny_tensors(false);
  ts[2] = f32("model.layers.0.self_attn.q_proj.weight", {4, 8});    // wrong rows
  ts.push_back(f32("model.layers.7.mlp.up_proj.weight", {12, 8}));  // layer past n_layer
  ts.push_back(f32("vision_tower.weight", {2}));
  write_safetensors((dir_ / "model.safetensors").string(), ts, {}, false);
  auto m = open_hf_folder(dir_.string());
  EXPECT_EQ(m.weights->format_description(), "safetensors");
  EXPECT_TRUE(has_warning(m,
                          "tensor 'model.layers.0.self_attn.q_proj.weight' has shape [4, 8] but "
                          "config.json implies [8, 8]"))
      << ::testing::PrintToString(m.warnings);
  EXPECT_TRUE(has_warning(m, "unexpected tensor name 'model.layers.7.mlp.up_proj.weight'"));
  EXPECT_TRUE(has_warning(m, "unexpected tensor name 'vision_tower.weight'"));
  EXPECT_FALSE(has_warning(m, "lm_head"));  // tied: no lm_head needed
  EXPECT_EQ(m.warnings.size(), 3u) << ::testing::PrintToString(m.warnings);

  cfg["tie_word_embeddings"] = false;
  write_config(cfg);
  EXPECT_TRUE(has_warning(open_hf_folder(dir_.string()), "missing tensor 'lm_head.weight'"));
}

TEST_F(HfFolderTest, RejectsBadIndexes) {
  write_config(tiny_config());
  write_safetensors_sharded(dir_.string(), tiny_tensors(), {}, 1000, false);
  const json good = read_index();

  json j = good;
  j["weight_map"]["lm_head.weight"] = "../model-00001-of-00004.safetensors";
  write_index(j);
  expect_error("not a plain file name");

  j = good;
  j["weight_map"]["lm_head.weight"] = "/etc/passwd";
  write_index(j);
  expect_error("not a plain file name");

  j = good;
  j["weight_map"]["lm_head.weight"] = "config.json";
  write_index(j);
  expect_error("not a .safetensors file");

  j = good;
  j["weight_map"]["extra.weight"] = "model-00099-of-00099.safetensors";
  write_index(j);
  expect_error("does not exist");

  j = good;
  j["weight_map"]["extra.weight"] = good["weight_map"]["lm_head.weight"];
  write_index(j);
  expect_error("tensor 'extra.weight' listed in model.safetensors.index.json is missing");

  j = good;
  j["weight_map"].erase("model.norm.weight");
  write_index(j);
  expect_error("tensor 'model.norm.weight' is not listed");

  j = good;
  j["weight_map"]["model.embed_tokens.weight"] = good["weight_map"]["lm_head.weight"];
  write_index(j);
  expect_error("but model.safetensors.index.json lists it in");

  j = good;
  j["weight_map"]["model.norm.weight"] = 3;
  write_index(j);
  expect_error("is not a string");

  write_text("model.safetensors.index.json",
             R"({"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}})");
  expect_error("duplicate JSON key 'a'");

  j = good;
  j["metadata"]["total_size"] = 12345;
  write_index(j);
  EXPECT_TRUE(has_warning(open_hf_folder(dir_.string()), "total_size 12345 differs"));
}

TEST_F(HfFolderTest, RejectsDuplicateTensorsAcrossShards) {
  write_config(tiny_config());
  auto ts = tiny_tensors();
  write_safetensors((dir_ / "model-00001-of-00002.safetensors").string(), {ts[0]}, {}, false);
  write_safetensors((dir_ / "model-00002-of-00002.safetensors").string(), {ts[0], ts[1]}, {},
                    false);
  write_index({{"weight_map",
                {{ts[0].info.name, "model-00001-of-00002.safetensors"},
                 {ts[1].info.name, "model-00002-of-00002.safetensors"}}}});
  expect_error("is also in");
}

TEST_F(HfFolderTest, ReadsShardedPytorchFolder) {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "Debian python3-torch not installed";
  write_config(tiny_config());
  // Two .bin shards and their index, as transformers writes them.
  const std::string py =
      "import json, sys, torch\n"
      "d = sys.argv[1]\n"
      "a = {'model.embed_tokens.weight': torch.ones(16, 8), 'model.norm.weight': torch.ones(8)}\n"
      "b = {'lm_head.weight': torch.arange(128, dtype=torch.float32).reshape(16, 8)}\n"
      "torch.save(a, d + '/pytorch_model-00001-of-00002.bin')\n"
      "torch.save(b, d + '/pytorch_model-00002-of-00002.bin')\n"
      "wm = {k: 'pytorch_model-00001-of-00002.bin' for k in a}\n"
      "wm.update({k: 'pytorch_model-00002-of-00002.bin' for k in b})\n"
      "json.dump({'metadata': {'total_size': 4 * (128 + 8 + 128)}, 'weight_map': wm},\n"
      "          open(d + '/pytorch_model.bin.index.json', 'w'))\n";
  write_text("make.py", py);
  ASSERT_EQ(
      std::system(("/usr/bin/python3 '" + (dir_ / "make.py").string() + "' '" + dir_.string() + "'")
                      .c_str()),
      0);
  fs::remove(dir_ / "make.py");
  auto m = open_hf_folder(dir_.string());
  ASSERT_EQ(m.weights->tensors().size(), 3u);
  const auto i = m.weights->find("lm_head.weight");
  ASSERT_GE(i, 0);
  EXPECT_EQ(m.weights->tensors()[static_cast<size_t>(i)].shape, (std::vector<uint64_t>{16, 8}));
  auto b = m.weights->read(static_cast<size_t>(i));
  ASSERT_EQ(b.size(), 16u * 8 * 4);
  float last;
  std::memcpy(&last, b.data() + b.size() - 4, 4);
  EXPECT_EQ(last, 127.0f);
  EXPECT_FALSE(has_warning(m, "total_size")) << ::testing::PrintToString(m.warnings);
  EXPECT_FALSE(has_warning(m, "unused")) << ::testing::PrintToString(m.warnings);
}

TEST_F(HfFolderTest, RejectsMissingPieces) {
  expect_error("no config.json");
  write_config(tiny_config());
  expect_error("no weights found");
  write_text("config.json", "{\"vocab_size\": 16,");
  expect_error("invalid JSON");
  auto cfg = tiny_config();
  cfg["num_attention_heads"] = 3;
  write_config(cfg);
  expect_error("not a multiple");
  EXPECT_THROW(open_hf_folder((dir_ / "nope").string()), Error);
}

}  // namespace
}  // namespace lmforge
