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

TEST_F(GgmlLegacyTest, GgjtWriterRoundTripsThroughTheReader) {
  // The container writer alone: header, vocabulary and records read back as written.
  Hparams hp;
  hp.n_vocab = 2, hp.n_embd = 32, hp.n_mult = 8, hp.n_head = 2, hp.n_layer = 1, hp.n_rot = 16, hp.ftype = 1;
  std::vector<GgjtVocabEntry> vocab = {{"a", -1.5f}, {"bc", 0.25f}};
  std::vector<uint8_t> matrix(2 * 32 * 2), norm(32 * 4);
  for (size_t i = 0; i < matrix.size(); ++i) matrix[i] = static_cast<uint8_t>(i * 7);
  for (size_t i = 0; i < norm.size(); ++i) norm[i] = static_cast<uint8_t>(i * 3 + 1);
  std::vector<GgjtTensor> ts = {{"m", DType::F16, {2, 32}, [&] { return TensorBytes(matrix); }},
                                {"v", DType::F32, {32}, [&] { return TensorBytes(norm); }}};
  const std::string path = (dir_ / "w.bin").string();
  write_ggjt_v3_file(path, false, hp, vocab, ts);

  GgmlLegacyContents back = open_ggml_legacy_contents(path);
  EXPECT_EQ(back.hparams.n_embd, 32);
  EXPECT_EQ(back.hparams.n_mult, 8);
  EXPECT_EQ(back.hparams.ftype, 1);
  EXPECT_EQ(back.vocab_text, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(back.scores, (std::vector<float>{-1.5f, 0.25f}));
  ASSERT_EQ(back.tensors->tensors().size(), 2u);
  EXPECT_EQ(back.tensors->tensors()[0].shape, (std::vector<uint64_t>{2, 32}));
  EXPECT_EQ(back.tensors->tensors()[0].offset % kGgjtAlignment, 0u);
  const TensorBytes m = back.tensors->read(0), v = back.tensors->read(1);
  EXPECT_EQ(std::vector<uint8_t>(m.data(), m.data() + m.size()), matrix);
  EXPECT_EQ(std::vector<uint8_t>(v.data(), v.data() + v.size()), norm);
  // A type ggjt v3 cannot hold is refused, not written.
  ts[0].type = DType::BF16;
  EXPECT_THROW(write_ggjt_v3_file((dir_ / "bad.bin").string(), false, hp, vocab, ts), Error);
  EXPECT_FALSE(fs::exists(dir_ / "bad.bin"));
}

}  // namespace
}  // namespace lmforge
