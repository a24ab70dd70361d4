// The ggjt sink: a llama model (any naming) written as ggjt v3 and read back as a llama.
#include "convert/sinks/ggjt_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "arch/llama/llama_names.h"
#include "convert/memory_source.h"
#include "convert/sources/ggml_legacy_llama_source.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

class GgjtSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge-ggjt-sink-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(GgjtSinkTest, WriterReordersHuggingFaceRotaryRowsAndRoundTrips) {
  LlamaModelSource m;
  m.path = "memory";
  m.naming = LlamaNaming::kHuggingFace;
  auto& c = m.config;
  c.vocab_size = 4, c.hidden_size = 32, c.intermediate_size = 96, c.num_hidden_layers = 1;
  c.num_attention_heads = 2, c.num_key_value_heads = 2, c.head_dim = 16;
  auto src = std::make_unique<MemorySource>();
  src->add("model.embed_tokens.weight", {4, 32});
  src->add("model.norm.weight", {32});
  src->add("lm_head.weight", {4, 32});
  for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"}) src->add(std::string("model.layers.0.self_attn.") + p + ".weight", {32, 32});
  src->add("model.layers.0.mlp.gate_proj.weight", {96, 32});
  src->add("model.layers.0.mlp.up_proj.weight", {96, 32});
  src->add("model.layers.0.mlp.down_proj.weight", {32, 96});
  src->add("model.layers.0.input_layernorm.weight", {32});
  src->add("model.layers.0.post_attention_layernorm.weight", {32});
  const TensorSource& hf = *src;
  m.weights = std::move(src);
  m.tokenizer_kvs = {{"tokenizer.ggml.tokens", GgufValue::string_array({"<unk>", "<s>", "</s>", "\xE2\x96\x81hi"})},
                     {"tokenizer.ggml.scores", GgufValue::f32_array({0, 0, 0, -1.5f})},
                     {"tokenizer.ggml.token_type", GgufValue::i32_array({2, 3, 3, 1})}};
  ConvertOptions opt;
  opt.quiet = true;
  const std::string out = (dir_ / "out.bin").string();
  write_ggjt_v3(m, out, opt);

  LlamaModelSource back = open_ggml_legacy_llama(out);
  EXPECT_EQ(back.config.intermediate_size, 96u);
  EXPECT_EQ(back.config.head_dim, 16u);
  const GgufValue* tokens = nullptr;
  for (const auto& kv : back.tokenizer_kvs)
    if (kv.key == "tokenizer.ggml.tokens") tokens = &kv.value;
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->array.size(), 4u);
  EXPECT_EQ(tokens->array[3].s, "\xE2\x96\x81hi");
  // Q rows: Meta row r is HF row hf_row_for_gguf_row(r); V rows keep their order.
  auto rows_of = [](const TensorSource& s, const std::string& name) {
    const auto i = s.find(name);
    EXPECT_GE(i, 0) << name;
    auto b = s.read(static_cast<size_t>(i));
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return v;
  };
  const auto q_meta = rows_of(*back.weights, "layers.0.attention.wq.weight");
  const auto q_hf = rows_of(hf, "model.layers.0.self_attn.q_proj.weight");
  for (uint64_t r = 0; r < 32; ++r)
    EXPECT_EQ(q_meta[r * 32], q_hf[hf_row_for_gguf_row(r, 16) * 32]) << r;
  EXPECT_EQ(rows_of(*back.weights, "layers.0.attention.wv.weight"), rows_of(hf, "model.layers.0.self_attn.v_proj.weight"));

  // ggjt (Meta naming) -> ggjt again is byte-identical.
  const std::string again = (dir_ / "again.bin").string();
  write_ggjt_v3(back, again, opt);
  std::ifstream a(out, std::ios::binary), b(again, std::ios::binary);
  const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(sa, sb);
}

}  // namespace
}  // namespace lmforge
