#include "formats/hf_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "formats/hf_folder_test_util.h"
#include "formats/safetensors_writer.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing_hf::f32;
using testing_hf::tiny_config;
using testing_hf::tiny_tensors;

class HfFolderTest : public testing_hf::HfFolderFixture {
 protected:
  void expect_error(const std::string& needle) { expect_error_from([](const std::string& d) { return open_hf_folder(d); }, needle); }
  static bool has_warning(const HfModel& m, const std::string& needle) { return HfFolderFixture::has_warning(m.warnings, needle); }
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

TEST_F(HfFolderTest, ChecksRunWhereTheirProblemsBelong) {
  // The config check runs before the weights are looked for, so a bad config is the error
  // even in a folder without weights; tensor warnings come before unused-file warnings.
  write_config(tiny_config());
  HfFolderChecks refuse;
  refuse.config = [](const nlohmann::json&, const std::string& path) { fail(path, "not my model"); };
  expect_error_from([&](const std::string& d) { return open_hf_folder(d, refuse); }, "not my model");
  expect_error("no weights found");

  write_safetensors((dir_ / "model.safetensors").string(), tiny_tensors(), {}, false);
  write_text("notes.bin", "x");
  std::vector<std::string> seen_config;
  size_t seen_tensors = 0;
  HfFolderChecks record;
  record.config = [&](const nlohmann::json& j, const std::string& path) {
    seen_config.push_back(path);
    EXPECT_EQ(j["hidden_size"], 8);
  };
  record.tensors = [&](const std::vector<TensorInfo>& ts) {
    seen_tensors = ts.size();
    return std::vector<std::string>{"from the tensor check"};
  };
  auto m = open_hf_folder(dir_.string(), record);
  ASSERT_EQ(seen_config.size(), 1u);
  EXPECT_EQ(seen_config[0], (dir_ / "config.json").string());
  EXPECT_EQ(seen_tensors, tiny_tensors().size());
  EXPECT_EQ(m.warnings, (std::vector<std::string>{"from the tensor check", "unused file 'notes.bin'"}));
  // Without checks the container has nothing to say about the tensors.
  EXPECT_EQ(open_hf_folder(dir_.string()).warnings, (std::vector<std::string>{"unused file 'notes.bin'"}));
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
  EXPECT_THROW(open_hf_folder((dir_ / "nope").string()), Error);
}

}  // namespace
}  // namespace lmforge
