// write_llama_gguf on a small synthetic model: the GGUF read back holds the llama keys, the
// tokenizer keys, the tensors in canonical order, the types the policy gives, and Q/K rows
// permuted from Hugging Face's rotate_half layout to GGUF's adjacent pairs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "arch/llama/llama_names.h"
#include "convert/llama_source.h"
#include "convert/sinks/gguf_sink.h"
#include "convert/memory_source.h"
#include "convert/tiny_llama.h"
#include "core/error.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

class WriteLlamaGgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge-llama-gguf-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::vector<float> floats(const TensorSource& s, const std::string& name) {
    const auto i = s.find(name);
    EXPECT_GE(i, 0) << name;
    if (i < 0) return {};
    auto b = s.read(static_cast<size_t>(i));
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return v;
  }

  fs::path dir_;
};

TEST_F(WriteLlamaGgufTest, KeysOrderAndRotaryRows) {
  LlamaModelSource m = tiny_llama_model();
  auto hf = std::make_unique<MemorySource>();
  add_tiny_llama_tensors(*hf);
  ConvertOptions opt;
  opt.quiet = true;
  opt.outtype = DType::F32;  // exact values, to follow every row
  const std::string out = (dir_ / "out.gguf").string();
  const ConvertReport rep = write_llama_gguf(m, out, opt);
  EXPECT_EQ(rep.tensors, 12u);

  auto g = GgufReader::open(out);
  auto u32 = [&](const char* key) {
    const GgufValue* v = g->find_kv(key);
    EXPECT_NE(v, nullptr) << key;
    return v ? v->as_uint().value_or(999999) : 999999;
  };
  ASSERT_NE(g->find_kv("general.architecture"), nullptr);
  EXPECT_EQ(g->find_kv("general.architecture")->s, "llama");
  EXPECT_EQ(g->find_kv("general.name")->s, "tiny");
  EXPECT_EQ(u32("llama.block_count"), 1u);
  EXPECT_EQ(u32("llama.embedding_length"), 32u);
  EXPECT_EQ(u32("llama.feed_forward_length"), 64u);
  EXPECT_EQ(u32("llama.attention.head_count"), 2u);
  EXPECT_EQ(u32("llama.attention.head_count_kv"), 1u);
  EXPECT_EQ(u32("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(g->find_kv("llama.rope.freq_base"), nullptr);  // the source did not say
  EXPECT_EQ(u32("general.file_type"), 0u);                 // all F32
  ASSERT_NE(g->find_kv("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(g->find_kv("tokenizer.ggml.tokens")->array.at(3).s, "\xE2\x96\x81hi");

  // Canonical order, whatever the source order.
  std::vector<std::string> names;
  for (const auto& t : g->tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight",
                                             "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.attn_output.weight",
                                             "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_down.weight",
                                             "blk.0.ffn_up.weight", "output_norm.weight", "output.weight"}));

  // Q (2 heads) and K (1 head): GGUF row r holds HF row hf_row_for_gguf_row(r); V unchanged.
  const auto q = floats(*g, "blk.0.attn_q.weight"), q_hf = floats(*hf, "model.layers.0.self_attn.q_proj.weight");
  const auto k = floats(*g, "blk.0.attn_k.weight"), k_hf = floats(*hf, "model.layers.0.self_attn.k_proj.weight");
  ASSERT_EQ(q.size(), 32u * 32);
  ASSERT_EQ(k.size(), 16u * 32);
  for (uint64_t r = 0; r < 32; ++r) EXPECT_EQ(q[r * 32 + 5], q_hf[hf_row_for_gguf_row(r, 16) * 32 + 5]) << r;
  for (uint64_t r = 0; r < 16; ++r) EXPECT_EQ(k[r * 32], k_hf[hf_row_for_gguf_row(r, 16) * 32]) << r;
  EXPECT_NE(q, q_hf);  // the permutation did something
  EXPECT_EQ(floats(*g, "blk.0.attn_v.weight"), floats(*hf, "model.layers.0.self_attn.v_proj.weight"));
  EXPECT_EQ(floats(*g, "output.weight"), floats(*hf, "lm_head.weight"));
}

TEST_F(WriteLlamaGgufTest, TypesFollowThePolicy) {
  LlamaModelSource m = tiny_llama_model();
  auto hf = std::make_unique<MemorySource>();
  add_tiny_llama_tensors(*hf);
  ConvertOptions opt;
  opt.quiet = true;
  opt.outtype = DType::Q4_0;
  const std::string out = (dir_ / "q4.gguf").string();
  write_llama_gguf(m, out, opt);
  auto g = GgufReader::open(out);
  auto type_of = [&](const std::string& n) { return g->tensors().at(static_cast<size_t>(g->find(n))).dtype; };
  EXPECT_EQ(type_of("blk.0.attn_q.weight"), DType::Q4_0);
  EXPECT_EQ(type_of("blk.0.ffn_down.weight"), DType::Q4_0);
  EXPECT_EQ(type_of("token_embd.weight"), DType::Q4_0);
  EXPECT_EQ(type_of("output.weight"), DType::Q8_0);  // the head keeps 8 bits
  EXPECT_EQ(type_of("blk.0.attn_norm.weight"), DType::F32);
  EXPECT_EQ(type_of("output_norm.weight"), DType::F32);
  EXPECT_EQ(g->find_kv("general.file_type")->as_uint(), 2u);  // MOSTLY_Q4_0
  EXPECT_NE(g->find_kv("general.quantization_version"), nullptr);
}

TEST_F(WriteLlamaGgufTest, RefusesIncompleteModels) {
  LlamaModelSource m = tiny_llama_model();
  m.config.num_hidden_layers = 2;  // layer 1 is missing
  ConvertOptions opt;
  opt.quiet = true;
  try {
    write_llama_gguf(m, (dir_ / "x.gguf").string(), opt);
    ADD_FAILURE() << "a model missing a layer was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.1.attn_norm.weight"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "x.gguf"));
}

}  // namespace
}  // namespace lmforge
