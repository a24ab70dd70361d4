// A tiny random BERT folder written for the engine tests (config.json, vocab.txt,
// model.safetensors with BertModel names), with what to break as options. Names and shapes come
// from arch/bert's tensor table, so the folder is what a BertModel checkpoint holds.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/bert/bert_tensors.h"
#include "formats/safetensors_writer.h"
#include "kernels/kernel_test_util.h"  // random_floats
#include "quant/type_traits.h"

namespace lmforge::test {

struct BertFolderSpec {
  BertConfig config{.vocab_size = 0, .hidden_size = 32, .num_hidden_layers = 2, .num_attention_heads = 4,
                    .intermediate_size = 64, .max_position_embeddings = 24, .type_vocab_size = 2,
                    .layer_norm_eps = 1e-12f};
  DType matrix_type = DType::F32;
  std::string prefix;  // "" or "bert."
};

inline std::vector<std::string> bert_test_vocab() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","};
  for (char c = 'a'; c <= 'z'; ++c) v.push_back(std::string(1, c));
  for (char c = 'a'; c <= 'z'; ++c) v.push_back("##" + std::string(1, c));
  for (const char* w : {"hello", "world", "the", "quick", "brown", "fox", "lazy", "dog"}) v.push_back(w);
  return v;
}

inline void write_bert_folder(const std::string& dir, BertFolderSpec s) {
  namespace fs = std::filesystem;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto vocab = bert_test_vocab();
  s.config.vocab_size = static_cast<uint32_t>(vocab.size());
  const BertConfig& c = s.config;
  {
    std::ofstream f(fs::path(dir) / "vocab.txt");
    for (const auto& t : vocab) f << t << "\n";
    nlohmann::json cfg = {{"model_type", "bert"}, {"hidden_act", "gelu"}, {"vocab_size", c.vocab_size},
                          {"hidden_size", c.hidden_size}, {"num_hidden_layers", c.num_hidden_layers},
                          {"num_attention_heads", c.num_attention_heads}, {"intermediate_size", c.intermediate_size},
                          {"max_position_embeddings", c.max_position_embeddings},
                          {"type_vocab_size", c.type_vocab_size}, {"layer_norm_eps", c.layer_norm_eps}};
    std::ofstream(fs::path(dir) / "config.json") << cfg.dump();
  }
  std::vector<TensorToWrite> tensors;
  uint32_t seed = 100;
  for (const BertTensorSpec& spec : bert_tensor_specs(c)) {
    const bool vec = spec.shape.size() == 1;
    const DType t = vec ? DType::F32 : s.matrix_type;
    uint64_t n = 1;
    for (uint64_t d : spec.shape) n *= d;
    const bool norm = vec && spec.hf.find("LayerNorm.weight") != std::string::npos;
    auto v = random_floats(n, seed++, vec ? 0.1f : 0.3f);
    if (norm)
      for (float& x : v) x += 1.0f;
    TensorToWrite w;
    w.info.name = s.prefix + spec.hf;
    w.info.dtype = t;
    w.info.shape = spec.shape;
    w.info.nbytes = *dtype_nbytes(t, n);
    const uint64_t row = spec.shape.back();
    w.produce = [t, v, n, row] {
      std::vector<uint8_t> b(*dtype_nbytes(t, n));
      for (uint64_t r = 0; r < n / row; ++r) encode_row(t, &v[r * row], &b[*dtype_nbytes(t, r * row)], row);
      return TensorBytes(std::move(b));
    };
    tensors.push_back(std::move(w));
  }
  write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {}, true);
}

// A folder named after the running test under the gtest temporary directory.
inline std::string bert_test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::path(::testing::TempDir()) /
          ("bert_" + std::string(info->test_suite_name()) + "_" + info->name()))
      .string();
}

}  // namespace lmforge::test
