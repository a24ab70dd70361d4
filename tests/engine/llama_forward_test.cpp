// Scalar reference forward pass: the small operations against hand computation, the matmul of
// every weight type against dequantize-then-dot, and the loader and context on tiny GGUF
// models written here (shape checks, tied head, KV cache consistency, bad input).
#include "engine/llama_forward.h"

#include <gtest/gtest.h>

#include <fstream>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "core/error.h"
#include "core/huge_page_copy.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "kernels/matmul_ref.h"
#include "kernels/ops_ref.h"
#include "quant/type_traits.h"
#include "engine/llama_model.h"
#include "tiny_llama.h"

namespace lmforge {
namespace {

using test::random_floats;
using test::TinyModel;
using test::TinySpec;

TEST(OpsRef, RmsNormSoftmaxSwiglu) {
  const float x[4] = {1, -2, 3, -4}, w[4] = {1, 2, 0.5f, -1};
  float y[4];
  rms_norm_ref(x, w, y, 4, 1e-5f);
  const double inv = 1.0 / std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] * inv * w[i], 1e-6);

  float s[3] = {1000, 1001, 999};  // would overflow exp without subtracting the max
  softmax_ref(s, 3);
  const double e = std::exp(1.0), z = 1 + e + 1 / e;
  EXPECT_NEAR(s[0], 1 / z, 1e-7);
  EXPECT_NEAR(s[1], e / z, 1e-7);
  EXPECT_NEAR(s[2], 1 / e / z, 1e-7);

  const float g[2] = {2, -3}, u[2] = {0.5f, 4};
  float o[2];
  swiglu_ref(g, u, o, 2);
  EXPECT_NEAR(o[0], 2 / (1 + std::exp(-2.0)) * 0.5, 1e-6);
  EXPECT_NEAR(o[1], -3 / (1 + std::exp(3.0)) * 4, 1e-6);
}

TEST(MatmulRef, F32ByHand) {
  const float w[6] = {1, 2, 3, 4, 5, 6}, x[3] = {1, 0, -1};
  float y[2];
  matmul_ref(MatrixView{DType::F32, reinterpret_cast<const uint8_t*>(w), 2, 3, 12}, x, y);
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[1], -2.0f);
}

TEST(MatmulRef, EveryTypeEqualsDequantizeThenDot) {
  const size_t rows = 5, cols = 96;
  const auto wf = random_floats(rows * cols, 1);
  const auto x = random_floats(cols, 2);
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                  DType::Q5_1}) {
    ASSERT_TRUE(matmul_ref_supports(t));
    const size_t rb = *dtype_nbytes(t, cols);
    std::vector<uint8_t> w(rows * rb);
    for (size_t r = 0; r < rows; ++r) encode_row(t, &wf[r * cols], &w[r * rb], cols);
    const MatrixView m{t, w.data(), rows, cols, rb};
    std::vector<float> y(rows), row(cols);
    matmul_ref(m, x.data(), y.data());
    for (size_t r = 0; r < rows; ++r) {
      decode_row(t, &w[r * rb], row.data(), cols);
      double want = 0, exact = 0, rounding = 0;
      for (size_t c = 0; c < cols; ++c) {
        want += static_cast<double>(row[c]) * x[c];
        exact += static_cast<double>(wf[r * cols + c]) * x[c];
        rounding += std::fabs(static_cast<double>(row[c]) - wf[r * cols + c]) * std::fabs(x[c]);
      }
      EXPECT_EQ(y[r], static_cast<float>(want)) << dtype_name(t) << " row " << r;
      // The storage rounding of the weights is all that separates it from the unrounded product.
      EXPECT_NEAR(y[r], exact, rounding + 1e-5 * std::fabs(exact)) << dtype_name(t) << " row " << r;
      if (t != DType::F32) {
        EXPECT_GT(rounding, 0.0);
      }
    }
  }
  EXPECT_FALSE(matmul_ref_supports(DType::IQ4_NL));
}

TEST_F(TinyModel, LoadsConfigAndViews) {
  auto m = write(TinySpec{});
  EXPECT_EQ(m->config().head_dim, 8u);
  EXPECT_EQ(m->config().num_key_value_heads, 2u);
  EXPECT_EQ(m->n_vocab(), 40u);
  EXPECT_FALSE(m->tied_output);
  EXPECT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[1].wk.m.rows, 16u);
  EXPECT_NE(m->output.m.data, m->tok_embd.m.data);
}

// F16 products move onto a huge-page copy (core/huge_page_copy.h) holding the file's bytes;
// the embedding, read by row, stays mapped.
TEST_F(TinyModel, FloatProductsMoveOntoHugePageCopies) {
  if (!huge_page_copies_wanted()) GTEST_SKIP() << "transparent huge pages are off here";
  TinySpec s;
  s.matrix_type = DType::F16;
  auto m = write(s);
  EXPECT_NE(m->tok_embd.bytes.file(), nullptr);
  const auto g = GgufReader::open(path_);
  for (const LlamaWeight* w : {&m->layers[0].wq, &m->layers[1].w_down, &m->output}) {
    SCOPED_TRACE(w->name);
    EXPECT_EQ(w->bytes.file(), nullptr);
    EXPECT_EQ(w->m.data, w->bytes.data());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w->m.data) % (size_t{2} << 20), 0u);
    const TensorBytes in_file = g->read(static_cast<size_t>(g->find(w->name)));
    ASSERT_EQ(in_file.size(), w->bytes.size());
    EXPECT_EQ(std::memcmp(in_file.data(), w->m.data, in_file.size()), 0);
  }
}

TEST_F(TinyModel, TiedOutputIsTheEmbedding) {
  TinySpec s;
  s.tied = true;
  auto m = write(s);
  EXPECT_TRUE(m->tied_output);
  EXPECT_EQ(m->output.m.data, m->tok_embd.m.data);
  LlamaContext ctx(*m, 8);
  EXPECT_EQ(ctx.eval(std::vector<int32_t>{1, 2}).size(), 40u);
}

TEST_F(TinyModel, ShapeContradictingHyperparametersNamesTheTensor) {
  TinySpec s;
  s.shape_override["blk.1.attn_k.weight"] = {32, 32};  // GQA says 2 heads of 8 = 16 rows
  const std::string e = load_error(s);
  EXPECT_NE(e.find("'blk.1.attn_k.weight' has shape [32, 32], expected [16, 32]"), std::string::npos) << e;
}

TEST_F(TinyModel, MissingTensorAndUnsupportedTypeAreNamed) {
  TinySpec s;
  s.drop = "blk.0.ffn_up.weight";
  std::string e = load_error(s);
  EXPECT_NE(e.find("'blk.0.ffn_up.weight' is missing"), std::string::npos) << e;
  TinySpec q;
  q.type_override["blk.1.ffn_down.weight"] = DType::IQ4_NL;  // no kernel (nor encoder: zero bytes)
  e = load_error(q);
  EXPECT_NE(e.find("'blk.1.ffn_down.weight' has type IQ4_NL"), std::string::npos) << e;
  // The list of runnable types comes from kernels/weight_types.
  EXPECT_NE(e.find("supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1"), std::string::npos) << e;
}

TEST_F(TinyModel, KvCacheGivesTheSameLogitsTokenByToken) {
  auto m = write(TinySpec{});
  const std::vector<int32_t> ids = {1, 5, 39, 0, 7, 7};
  const LlamaContextOptions ref{.n_ctx = 16, .reference = true};
  LlamaContext all(*m, ref);
  const auto every = all.eval(ids, true);
  ASSERT_EQ(every.size(), ids.size() * 40);
  EXPECT_EQ(all.pos(), ids.size());

  LlamaContext one(*m, ref);
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto l = one.eval(std::span<const int32_t>(&ids[i], 1));
    for (size_t v = 0; v < 40; ++v) ASSERT_EQ(l[v], every[i * 40 + v]) << i << " " << v;
  }
  // Splitting the prompt anywhere changes nothing either; the last row is eval()'s default.
  LlamaContext split(*m, ref);
  split.eval(std::span<const int32_t>(ids.data(), 2));
  const auto last = split.eval(std::span<const int32_t>(ids.data() + 2, 4));
  for (size_t v = 0; v < 40; ++v) EXPECT_EQ(last[v], every[5 * 40 + v]);
  for (float v : every) EXPECT_TRUE(std::isfinite(v));
}

TEST_F(TinyModel, AttentionSeesEarlierTokens) {
  auto m = write(TinySpec{});
  LlamaContext a(*m, 8), b(*m, 8);
  const auto la = a.eval(std::vector<int32_t>{3, 9});
  const auto lb = b.eval(std::vector<int32_t>{4, 9});
  EXPECT_NE(la, lb);
}

TEST_F(TinyModel, QuantizedMatricesRunCloseToF32) {
  TinySpec s;
  auto f32 = write(s);
  LlamaContext c32(*f32, 8);
  const auto ref = c32.eval(std::vector<int32_t>{2, 3, 4});
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1}) {
    s.matrix_type = t;
    auto m = write(s);
    LlamaContext c(*m, 8);
    const auto l = c.eval(std::vector<int32_t>{2, 3, 4});
    double worst = 0;
    for (size_t v = 0; v < l.size(); ++v) worst = std::max(worst, std::fabs(static_cast<double>(l[v]) - ref[v]));
    const bool four_or_five_bits = t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q5_0 || t == DType::Q5_1;
    const double tol = t == DType::F16 ? 0.02 : four_or_five_bits ? 4.0 : 0.3;
    EXPECT_LT(worst, tol) << dtype_name(t);
    EXPECT_GT(worst, 0.0) << dtype_name(t);
  }
}

TEST_F(TinyModel, NonFiniteBlockScaleIsAnErrorNamingTheBlock) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1}) {
    TinySpec s;
    s.matrix_type = t;
    write(s);
    // Overwrite the scale of block 1 of one matrix with an f16 NaN, then with +inf.
    uint64_t offset = 0;
    {
      auto g = GgufReader::open(path_);
      offset = g->tensors()[static_cast<size_t>(g->find("blk.0.ffn_up.weight"))].offset + dtype_info(t).block_bytes;
    }
    for (uint16_t bad : {uint16_t{0x7E00}, uint16_t{0x7C00}}) {
      {
        std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(offset));
        f.write(reinterpret_cast<const char*>(&bad), 2);
      }
      try {
        LlamaModel::open(path_);
        ADD_FAILURE() << "a " << dtype_name(t) << " file with a non-finite scale was accepted";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'blk.0.ffn_up.weight' block 1 has a NaN or infinite scale"), std::string::npos)
            << e.what();
      }
    }
  }
}

TEST_F(TinyModel, BadInputIsRefusedAndLeavesTheCache) {
  auto m = write(TinySpec{});
  LlamaContext ctx(*m, 4);
  ctx.eval(std::vector<int32_t>{1, 2});
  EXPECT_THROW(ctx.eval(std::vector<int32_t>{1, 2, 3}), Error);  // 5 > 4 positions
  EXPECT_THROW(ctx.eval(std::vector<int32_t>{40}), Error);       // outside the vocabulary
  EXPECT_THROW(ctx.eval(std::vector<int32_t>{-1}), Error);
  EXPECT_THROW(ctx.eval(std::vector<int32_t>{}), Error);
  EXPECT_EQ(ctx.pos(), 2u);
  ctx.reset();
  EXPECT_EQ(ctx.pos(), 0u);
}

// ---------------------------------------------------------------------------------------------
// the fast engine against the reference engine

// Max |a - b| over two logit arrays, and the largest |b| (the scale the difference is judged at).
std::pair<double, double> worst_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return {worst, scale};
}

TEST_F(TinyModel, FastEngineMatchesTheReferenceForEveryTypeAndThreadCount) {
  const std::vector<int32_t> ids = {1, 5, 39, 0, 7, 7, 12, 30, 2, 11, 25};
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                  DType::Q5_1}) {
    TinySpec s;
    s.matrix_type = t;
    auto m = write(s);
    LlamaContext ref(*m, LlamaContextOptions{.n_ctx = 16, .reference = true});
    const auto want = ref.eval(ids, true);
    for (uint32_t threads : {1u, 2u, 3u}) {
      for (uint32_t batch : {512u, 4u, 1u}) {
        LlamaContext fast(*m, LlamaContextOptions{.n_ctx = 16, .n_threads = threads, .n_batch = batch});
        const auto got = fast.eval(ids, true);
        ASSERT_EQ(got.size(), want.size());
        const auto [worst, scale] = worst_difference(got, want);
        // Float weights: only the summation order differs (float lanes vs double): measured
        // ~4e-6 at scale 5. Q8_0/Q4_0: the activations are also rounded to 8 bits, ~1 % relative
        // error per product (max over 64 rows), compounded over 2 layers x 7 products: measured
        // 0.21 (Q8_0) and 0.18 (Q4_0) at scale 5; Q4_1, Q5_0, Q5_1 likewise 8-bit activations.
        const double tol = dtype_is_quantized(t) ? 0.06 * scale : 2e-6 * scale;
        EXPECT_LT(worst, tol) << dtype_name(t) << " threads " << threads << " batch " << batch;
        EXPECT_GT(scale, 0.5);
      }
    }
  }
}

// The pool hands chunks of each step to whichever thread is free, and cuts steps differently
// for each thread count; no chunk boundary may change a result. Every step is shared here
// (LMFORGE_POOL_MIN_WORK=0: the tiny model's steps would otherwise stay on one thread), with a
// wider model than the default so that products have many row chunks.
TEST_F(TinyModel, FastEngineGivesBitIdenticalLogitsAtEveryThreadCount) {
  ::setenv("LMFORGE_POOL_MIN_WORK", "0", 1);
  const std::vector<int32_t> ids = {1, 5, 39, 0, 7, 7, 12, 30, 2, 11, 25, 3, 9};
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_1}) {
    TinySpec s;
    s.matrix_type = t;
    s.embd = 128;
    s.ff = 352;
    auto m = write(s);
    for (uint32_t batch : {512u, 5u, 1u}) {
      std::vector<float> want;
      for (uint32_t threads : {1u, 2u, 3u, 4u}) {
        LlamaContext fast(*m, LlamaContextOptions{.n_ctx = 16, .n_threads = threads, .n_batch = batch});
        const auto got = fast.eval(ids, true);
        if (threads == 1) {
          want = got;
          continue;
        }
        ASSERT_EQ(got.size(), want.size());
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
            << dtype_name(t) << " batch " << batch << " threads " << threads;
      }
    }
  }
  ::unsetenv("LMFORGE_POOL_MIN_WORK");
}

TEST_F(TinyModel, FastEngineGivesTheSameLogitsWhateverTheBatching) {
  for (DType t : {DType::F32, DType::Q4_0}) {
    TinySpec s;
    s.matrix_type = t;
    auto m = write(s);
    const std::vector<int32_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
    LlamaContext all(*m, LlamaContextOptions{.n_ctx = 16, .n_threads = 2});
    const auto every = all.eval(ids, true);
    LlamaContext one(*m, LlamaContextOptions{.n_ctx = 16, .n_threads = 1});
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto l = one.eval(std::span<const int32_t>(&ids[i], 1));
      for (size_t v = 0; v < 40; ++v) ASSERT_NEAR(l[v], every[i * 40 + v], 1e-5) << dtype_name(t) << " " << i << " " << v;
    }
  }
}

TEST_F(TinyModel, RewindKeepsThePrefix) {
  auto m = write(TinySpec{});
  LlamaContext a(*m, LlamaContextOptions{.n_ctx = 16, .n_threads = 2});
  a.eval(std::vector<int32_t>{1, 2, 3, 4});
  a.rewind(2);
  EXPECT_EQ(a.pos(), 2u);
  const auto l = a.eval(std::vector<int32_t>{9, 8});
  LlamaContext b(*m, LlamaContextOptions{.n_ctx = 16, .n_threads = 2});
  const auto want = b.eval(std::vector<int32_t>{1, 2, 9, 8});
  for (size_t v = 0; v < 40; ++v) EXPECT_NEAR(l[v], want[v], 1e-5);
}

}  // namespace
}  // namespace lmforge
