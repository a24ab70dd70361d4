#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "formats/ggml_legacy/ggjt_writer.h"
#include "formats/ggml_legacy/ggml_legacy_format.h"
#include "formats/ggml_legacy/ggml_legacy_reader.h"
#include "arch/llama/llama_names.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using namespace ggml_legacy;

// A little-endian byte builder for hand-made legacy files.
struct Bytes {
  std::vector<uint8_t> b;
  void raw(const void* p, size_t n) { b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); }
  void u32(uint32_t v) { raw(&v, 4); }
  void i32(int32_t v) { raw(&v, 4); }
  void f32(float v) { raw(&v, 4); }
  void u16(uint16_t v) { raw(&v, 2); }
  void str(const std::string& s) { raw(s.data(), s.size()); }
  void pad32() { while (b.size() % 32) b.push_back(0); }
};

class GgmlLegacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmforge-ggml-legacy-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string save(const Bytes& bytes, const std::string& name = "m.bin") {
    const auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.b.data()), static_cast<std::streamsize>(bytes.b.size()));
    return p;
  }
  // magic, version (unless 'ggml'), hparams, a 3-entry vocabulary.
  static Bytes header(uint32_t magic, uint32_t version, int32_t ftype) {
    Bytes h;
    h.u32(magic);
    if (magic != kMagicGgml) h.u32(version);
    for (int32_t v : {3, 32, 32, 2, 1, 16, ftype}) h.i32(v);
    for (const char* t : {" \xE2\x81\x87 ", "", ""}) {
      h.u32(static_cast<uint32_t>(std::strlen(t)));
      h.str(t);
      if (magic != kMagicGgml) h.f32(0.0f);
    }
    return h;
  }
  static void tensor_head(Bytes& f, int32_t type, std::vector<int32_t> ne, const std::string& name, bool aligned) {
    f.i32(static_cast<int32_t>(ne.size()));
    f.i32(static_cast<int32_t>(name.size()));
    f.i32(type);
    for (int32_t n : ne) f.i32(n);
    f.str(name);
    if (aligned) f.pad32();
  }
  fs::path dir_;
};

TEST_F(GgmlLegacyTest, OldQ4_0IsRewrittenToTodaysLayout) {
  // ggjt v1: f32 scale, element 2j in the low and 2j+1 in the high nibble of byte j.
  Bytes f = header(kMagicGgjt, 1, 2);
  tensor_head(f, 2, {32, 1}, "t.weight", true);
  const size_t data_at = f.b.size();
  f.f32(0.5f);
  for (int j = 0; j < 16; ++j) f.b.push_back(static_cast<uint8_t>((2 * j) % 16 | ((2 * j + 1) % 16) << 4));
  auto src = open_ggml_legacy(save(f));
  ASSERT_EQ(src->tensors().size(), 1u);
  EXPECT_EQ(data_at % 32, 0u);
  EXPECT_EQ(src->tensors()[0].dtype, DType::Q4_0);
  EXPECT_EQ(src->tensors()[0].shape, (std::vector<uint64_t>{1, 32}));
  auto b = src->read(0);
  ASSERT_EQ(b.size(), 18u);
  uint16_t d;
  std::memcpy(&d, b.data(), 2);
  EXPECT_EQ(d, fp32_to_fp16(0.5f));
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.data()[2 + j], (j % 16) | ((j + 16) % 16) << 4) << j;
  EXPECT_EQ(src->metadata()["version"], 1);
}

TEST_F(GgmlLegacyTest, Q4_2AndQ4_3DecodeToF32) {
  Bytes f = header(kMagicGgjt, 1, 5);
  tensor_head(f, 4, {16}, "a", true);
  f.u16(fp32_to_fp16(0.25f));
  for (int j = 0; j < 8; ++j) f.b.push_back(static_cast<uint8_t>((2 * j) | (2 * j + 1) << 4));
  tensor_head(f, 5, {16}, "b", true);
  f.u16(fp32_to_fp16(2.0f));
  f.u16(fp32_to_fp16(-1.0f));
  for (int j = 0; j < 8; ++j) f.b.push_back(static_cast<uint8_t>((2 * j) | (2 * j + 1) << 4));
  auto src = open_ggml_legacy(save(f));
  for (size_t t = 0; t < 2; ++t) {
    EXPECT_EQ(src->tensors()[t].dtype, DType::F32);
    auto b = src->read(t);
    ASSERT_EQ(b.size(), 64u);
    for (int k = 0; k < 16; ++k) {
      float y;
      std::memcpy(&y, b.data() + 4 * k, 4);
      EXPECT_EQ(y, t == 0 ? (k - 8) * 0.25f : k * 2.0f - 1.0f) << t << " " << k;
    }
  }
}

TEST_F(GgmlLegacyTest, UnversionedGgmlHasNoScoresAndNoPadding) {
  Bytes f = header(kMagicGgml, 0, 0);
  tensor_head(f, 0, {2}, "n", false);
  f.f32(1.0f);
  f.f32(-2.0f);
  auto src = open_ggml_legacy(save(f));
  EXPECT_EQ(src->metadata()["container"], "ggml");
  auto b = src->read(0);
  float v[2];
  std::memcpy(v, b.data(), 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.0f);
}

TEST_F(GgmlLegacyTest, BadInputsFailCleanly) {
  const Bytes good = [] {
    Bytes f = header(kMagicGgjt, 3, 0);
    tensor_head(f, 0, {4}, "n", true);
    for (int i = 0; i < 4; ++i) f.f32(1.0f);
    return f;
  }();
  auto expect_error = [&](Bytes f, const std::string& label) {
    EXPECT_THROW((void)open_ggml_legacy(save(f, label)), Error) << label;
  };
  Bytes t = good;
  t.b.resize(t.b.size() - 3);
  expect_error(t, "truncated");
  Bytes v = good;
  int32_t huge = 0x7fffffff;
  std::memcpy(v.b.data() + 8, &huge, 4);
  expect_error(v, "n_vocab");
  Bytes q = header(kMagicGgjt, 3, 0);
  tensor_head(q, 4, {16}, "q4_2 in v3", true);  // Q4_2 only existed in ggjt v1
  q.b.resize(q.b.size() + 10);
  expect_error(q, "q4_2");
  Bytes d = header(kMagicGgjt, 2, 0);
  tensor_head(d, 0, {1, 1, 1}, "three dims", true);
  d.f32(0);
  expect_error(d, "dims");
  Bytes r = header(kMagicGgjt, 3, 0);
  tensor_head(r, 2, {16}, "half block", true);
  expect_error(r, "rowlen");
}

TEST(GgmlLegacyFormat, NffAndVocabularyText) {
  EXPECT_EQ(n_ff_from_n_mult(4096, 256), 11008u);
  EXPECT_EQ(n_ff_from_n_mult(5120, 256), 13824u);
  EXPECT_EQ(n_ff_from_n_mult(6656, 256), 17920u);
  EXPECT_EQ(n_mult_for(4096, 11008), 256u);
  EXPECT_EQ(n_mult_for(3200, 8640), 240u);  // OpenLLaMA-3B
  EXPECT_FALSE(n_mult_for(4096, 100).has_value());
  EXPECT_EQ(legacy_text_for_piece("<0x0A>", kByte), "\n");
  EXPECT_EQ(legacy_text_for_piece("\xE2\x96\x81the", kNormal), " the");
  EXPECT_EQ(piece_for_legacy_text(13, "\n").piece, "<0x0A>");
  EXPECT_EQ(piece_for_legacy_text(300, " the").piece, "\xE2\x96\x81the");
  EXPECT_EQ(piece_for_legacy_text(300, "a").type, kNormal);
  EXPECT_EQ(piece_for_legacy_text(7, "a").type, kNormal);  // id 7 holds byte 4, not 'a'
}

// An in-memory model in Hugging Face naming: each value encodes its (row, column).
class MemorySource : public TensorSource {
 public:
  void add(const std::string& name, std::vector<uint64_t> shape) {
    TensorInfo t;
    t.name = name;
    t.shape = shape;
    t.nbytes = t.numel() * 4;
    std::vector<float> v(t.numel());
    const uint64_t cols = shape.back();
    for (uint64_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(id_ * 100000 + (i / cols) * 100 + i % cols);
    ++id_;
    std::vector<uint8_t> raw(v.size() * 4);
    std::memcpy(raw.data(), v.data(), raw.size());
    infos_.push_back(t);
    data_.push_back(std::move(raw));
  }
  std::string format_description() const override { return "memory"; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  TensorBytes read(size_t i) const override { return TensorBytes(data_[i]); }

 private:
  uint64_t id_ = 1;
  std::vector<TensorInfo> infos_;
  std::vector<std::vector<uint8_t>> data_;
};

TEST_F(GgmlLegacyTest, WriterReordersHuggingFaceRotaryRowsAndRoundTrips) {
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
