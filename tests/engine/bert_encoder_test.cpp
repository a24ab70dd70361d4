// The BERT encoder and the Embedder on tiny random folders: texts batched together (one pass,
// several passes, 1-3 threads) give what each gives alone; F16 weights stay close to F32;
// the "bert." prefix reads the same model; pooling and normalisation; refusals. (The numbers
// themselves are held to an independent float64 PyTorch BertModel by oracle.bert.)
#include "engine/bert_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "convert/sinks/bert_gguf_sink.h"
#include "core/error.h"
#include "engine/bert_model.h"
#include "engine/embedder.h"
#include "bert_test_folder.h"

namespace lmforge {
namespace {

using test::BertFolderSpec;
using test::bert_test_dir;
using test::write_bert_folder;

const std::vector<std::vector<int32_t>> kSeqs = {
    {2, 40, 41, 3}, {2, 3}, {2, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 3}, {2, 44, 45, 46, 5, 3}};

std::vector<float> alone(BertEncoder& enc, const std::vector<int32_t>& s) {
  return enc.encode(std::span<const std::vector<int32_t>>(&s, 1));
}

void expect_close(const float* a, const float* b, size_t n, double tol, const std::string& what) {
  for (size_t i = 0; i < n; ++i) ASSERT_NEAR(a[i], b[i], tol) << what << " element " << i;
}

TEST(BertEncoder, BatchedTextsGiveWhatEachGivesAlone) {
  const std::string dir = bert_test_dir();
  write_bert_folder(dir, {});
  const auto model = BertModel::open_folder(dir);
  const size_t h = model->config().hidden_size;
  BertEncoder one(*model, 1);
  std::vector<std::vector<float>> want;
  for (const auto& s : kSeqs) want.push_back(alone(one, s));
  // One pass with everything, passes of at most 8 tokens (each long text alone), 3 threads.
  for (auto [threads, pass] : {std::pair{1u, size_t{2048}}, std::pair{3u, size_t{8}}, std::pair{2u, size_t{20}}}) {
    BertEncoder enc(*model, threads, pass);
    const auto got = enc.encode(kSeqs);
    size_t row = 0;
    for (size_t i = 0; i < kSeqs.size(); ++i) {
      // A text that saw another's keys would be off by ~0.1 and more.
      expect_close(&got[row * h], want[i].data(), kSeqs[i].size() * h, 2e-5,
                   "threads " + std::to_string(threads) + " pass " + std::to_string(pass) + " text " + std::to_string(i));
      row += kSeqs[i].size();
    }
  }
  // Layer-normed outputs: each token's vector has mean ~ mean(bias), not raw sums.
  const auto out = alone(one, kSeqs[0]);
  for (float v : out) ASSERT_TRUE(std::isfinite(v));
  std::filesystem::remove_all(dir);
}

TEST(BertEncoder, PrefixedAndF16CheckpointsReadTheSameModel) {
  const std::string dir = bert_test_dir();
  write_bert_folder(dir, {});
  const auto plain = BertModel::open_folder(dir);
  BertEncoder e1(*plain, 2);
  const auto want = e1.encode(kSeqs);
  write_bert_folder(dir + "-bert", {.prefix = "bert."});
  const auto prefixed = BertModel::open_folder(dir + "-bert");
  BertEncoder e2(*prefixed, 2);
  const auto got = e2.encode(kSeqs);
  expect_close(got.data(), want.data(), want.size(), 0.0, "prefixed");
  write_bert_folder(dir + "-f16", {.matrix_type = DType::F16});
  const auto half = BertModel::open_folder(dir + "-f16");
  EXPECT_EQ(half->layers[0].q.w.m.type, DType::F16);
  BertEncoder e3(*half, 2);
  const auto got16 = e3.encode(kSeqs);
  expect_close(got16.data(), want.data(), want.size(), 2e-2, "f16");  // weights rounded to 11 bits
  for (const auto& d : {dir, dir + "-bert", dir + "-f16"}) std::filesystem::remove_all(d);
}

TEST(BertEncoder, RefusesBadSequencesBeforeComputing) {
  const std::string dir = bert_test_dir();
  write_bert_folder(dir, {});
  const auto model = BertModel::open_folder(dir);
  BertEncoder enc(*model, 1);
  auto message = [&](std::vector<std::vector<int32_t>> seqs) {
    try {
      enc.encode(seqs);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({{2, 3}, {}}).find("input 2 has no tokens"), std::string::npos);
  EXPECT_NE(message({std::vector<int32_t>(25, 5)}).find("25 tokens; the model takes at most 24"), std::string::npos);
  EXPECT_NE(message({{2, 9999, 3}}).find("token id 9999 is outside the vocabulary"), std::string::npos);
  EXPECT_NE(message({{2, -1, 3}}).find("token id -1"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Embedder, PoolsNormalisesAndTruncates) {
  const std::string dir = bert_test_dir();
  write_bert_folder(dir, {});
  const std::vector<std::string> texts = {"hello world", "", "the quick brown fox"};
  const auto raw = Embedder::open(dir, {.n_threads = 2, .pooling = Pooling::None, .normalize = false});
  EXPECT_EQ(raw->info().architecture, "bert");
  EXPECT_EQ(raw->info().dim, 32u);
  EXPECT_EQ(raw->info().max_tokens, 24u);
  const auto toks = raw->embed(texts);
  std::vector<std::vector<int32_t>> ids;
  for (const auto& t : texts) ids.push_back(raw->tokenize(t));
  EXPECT_EQ(ids[1], (std::vector<int32_t>{2, 3}));  // [CLS] [SEP]
  for (size_t i = 0; i < texts.size(); ++i) ASSERT_EQ(toks[i].size(), ids[i].size() * 32);
  for (Pooling p : {Pooling::Mean, Pooling::Cls, Pooling::Last}) {
    const auto e = Embedder::open(dir, {.n_threads = 2, .pooling = p});
    const auto v = e->embed(texts);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<float> want;
      pool_hidden_states(toks[i].data(), ids[i].size(), 32, p, true, want);
      ASSERT_EQ(v[i].size(), 32u);
      expect_close(v[i].data(), want.data(), 32, 1e-6, std::string(pooling_name(p)) + " text " + std::to_string(i));
      double norm = 0;
      for (float x : v[i]) norm += double{x} * x;
      EXPECT_NEAR(norm, 1.0, 1e-6);
    }
  }
  // Without modules.json the folder's pooling is the default mean, and says so.
  const auto def = Embedder::open(dir);
  EXPECT_EQ(def->info().pooling, Pooling::Mean);
  EXPECT_NE(def->info().pooling_source.find("default"), std::string::npos);
  // 30 letters: 32 ids with [CLS]/[SEP], over the 24 positions.
  std::string spaced;
  for (int i = 0; i < 30; ++i) spaced += "a ";
  try {
    def->tokenize(spaced, "chunk 7");
    ADD_FAILURE() << "an over-long text was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chunk 7 has 32 tokens; the model takes at most 24"), std::string::npos) << e.what();
  }
  const auto cut = Embedder::open(dir, {.truncate = true});
  const auto ids_cut = cut->tokenize(spaced);
  ASSERT_EQ(ids_cut.size(), 24u);
  EXPECT_EQ(ids_cut.front(), 2);
  EXPECT_EQ(ids_cut.back(), 3);  // [SEP] kept
  EXPECT_EQ(cut->embed(std::vector<std::string>{spaced})[0].size(), 32u);
  std::filesystem::remove_all(dir);
}

TEST(Embedder, ConvertedGgufEmbedsAsTheFolder) {
  const std::string dir = bert_test_dir();
  write_bert_folder(dir, {});
  const std::string gguf = dir + ".gguf";
  ConvertOptions opt;
  opt.outtype = DType::F32;
  opt.overwrite = true;
  opt.quiet = true;
  write_bert_gguf(dir, gguf, opt);
  EXPECT_TRUE(is_bert_gguf_file(gguf));
  EXPECT_FALSE(is_bert_gguf_file(dir));
  const std::vector<std::string> texts = {"hello world", "", "the quick brown foxes"};
  const auto from_folder = Embedder::open(dir, {.n_threads = 2});
  const auto from_gguf = Embedder::open(gguf, {.n_threads = 2});
  EXPECT_EQ(from_gguf->info().architecture, "bert");
  for (const auto& t : texts) EXPECT_EQ(from_gguf->tokenize(t), from_folder->tokenize(t)) << t;
  const auto a = from_folder->embed(texts), b = from_gguf->embed(texts);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(a[i], b[i]) << i;  // the same F32 weights
  std::filesystem::remove_all(dir);
  std::filesystem::remove(gguf);
}

TEST(Embedder, PoolingArithmetic) {
  const std::vector<float> h = {1, 2, 3, 4, 5, 6};  // 3 tokens x 2
  std::vector<float> out;
  pool_hidden_states(h.data(), 3, 2, Pooling::Mean, false, out);
  EXPECT_EQ(out, (std::vector<float>{3, 4}));
  pool_hidden_states(h.data(), 3, 2, Pooling::Cls, false, out);
  EXPECT_EQ(out, (std::vector<float>{1, 2}));
  pool_hidden_states(h.data(), 3, 2, Pooling::Last, true, out);
  EXPECT_NEAR(out[0], 5 / std::sqrt(61.0), 1e-7);
  EXPECT_NEAR(out[1], 6 / std::sqrt(61.0), 1e-7);
  pool_hidden_states(h.data(), 3, 2, Pooling::None, true, out);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_NEAR(out[2], 3 / 5.0, 1e-7);
  const std::vector<float> zero = {0, 0};
  pool_hidden_states(zero.data(), 1, 2, Pooling::Mean, true, out);
  EXPECT_EQ(out, (std::vector<float>{0, 0}));  // stays zero, no NaN
}

}  // namespace
}  // namespace lmforge
