// Helpers for tests of Hugging Face folders: a tiny llama folder's config and tensors, and a
// fixture with a fresh temporary folder. Used by tests/formats (the container) and
// tests/convert (the folder read as a llama).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/hf_folder.h"
#include "formats/safetensors_writer.h"

namespace lmforge::testing_hf {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A tiny GQA llama: vocab 16, hidden 8, 2 heads of 4, 1 kv head, ff 12, 2 layers.
inline json tiny_config() {
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

inline TensorToWrite f32(const std::string& name, std::vector<uint64_t> shape) {
  TensorToWrite t;
  t.info.name = name;
  t.info.dtype = DType::F32;
  t.info.shape = std::move(shape);
  t.info.nbytes = t.info.numel() * 4;
  const uint64_t n = t.info.nbytes;
  t.produce = [n] { return TensorBytes(std::vector<uint8_t>(n, 0x3f)); };
  return t;
}

inline std::vector<TensorToWrite> tiny_tensors(bool with_lm_head = true) {
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

class HfFolderFixture : public ::testing::Test {
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

  // `open` is the function under test: the container alone, or the folder read as a llama.
  template <typename Open>
  void expect_error_from(Open open, const std::string& needle) {
    try {
      (void)open(dir_.string());
      ADD_FAILURE() << "no error, expected '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }

  static bool has_warning(const std::vector<std::string>& warnings, const std::string& needle) {
    return std::any_of(warnings.begin(), warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  }

  fs::path dir_;
};

}  // namespace lmforge::testing_hf
