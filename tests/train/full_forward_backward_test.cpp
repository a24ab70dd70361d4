// The full-weight training pass (train/full_forward_backward.h) on tiny shapes: the gradient of
// every tensor (embedding, norms, q/k/v/o, gate/up/down, final norm, head; tied and untied)
// against central finite differences of its own loss, bit-identical results for 1, 2 and 3
// threads, the seeded initialisation, and the config reader's refusals. The float64 PyTorch
// comparison of whole AdamW steps is tests/oracles/check_full_train.py.
#include "train/full_forward_backward.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "train/full_model_tensors.h"
#include "train/full_step_trainer.h"
#include "train/train_config.h"
#include "train/train_rng.h"

namespace lmforge {
namespace {

LlamaConfig tiny_config(bool tied) {
  LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.rms_norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.tie_word_embeddings = tied;
  return c;
}

// Larger than the 0.02 of a real init, so that every gradient is well above rounding; norm
// weights away from 1 so that their gradients are not symmetric.
std::vector<TrainedTensor> random_tensors(const LlamaConfig& c, uint64_t seed) {
  std::vector<TrainedTensor> t = full_tensor_shapes(c);
  TrainRng rng(seed);
  for (auto& x : t)
    for (float& v : x.value) v = x.shape.size() == 1 ? rng.uniform(0.5f, 1.5f) : rng.uniform(-0.4f, 0.4f);
  return t;
}

std::vector<std::vector<int32_t>> random_windows(size_t n, uint32_t ctx, uint32_t vocab, uint64_t seed) {
  TrainRng rng(seed);
  std::vector<std::vector<int32_t>> w(n, std::vector<int32_t>(ctx + 1));
  for (auto& win : w)
    for (auto& id : win) id = static_cast<int32_t>(rng.below(vocab));
  return w;
}

std::vector<std::span<const int32_t>> spans(const std::vector<std::vector<int32_t>>& w) {
  return {w.begin(), w.end()};
}

std::vector<std::vector<float>> zero_grads(const std::vector<TrainedTensor>& t) {
  std::vector<std::vector<float>> g;
  for (const auto& x : t) g.emplace_back(x.value.size(), 0.0f);
  return g;
}

void check_gradient(bool tied) {
  const LlamaConfig c = tiny_config(tied);
  const uint32_t ctx = 5;
  std::vector<TrainedTensor> w = random_tensors(c, tied ? 3 : 4);
  const auto win = random_windows(2, ctx, c.vocab_size, 9);
  const auto s = spans(win);
  ThreadPool pool(2);
  FullForwardBackward fb(c, ctx, pool);
  auto g = zero_grads(w);
  const double loss = fb.accumulate(s, 1.0f, w, g);
  EXPECT_EQ(fb.loss(s, w), loss);
  size_t checked = 0;
  for (size_t ti = 0; ti < w.size(); ++ti) {
    std::vector<float>& v = w[ti].value;
    for (size_t i = 0; i < v.size(); i += v.size() / 6 + 1) {
      const float keep = v[i], h = 1e-2f;
      v[i] = keep + h;
      const double up = fb.loss(s, w);
      v[i] = keep - h;
      const double down = fb.loss(s, w);
      v[i] = keep;
      const double num = (up - down) / (2.0 * h);
      EXPECT_NEAR(g[ti][i], num, 2e-2 * std::fabs(num) + 2e-3) << w[ti].name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 100u);
}

TEST(FullTrainPass, GradientMatchesFiniteDifferencesUntied) { check_gradient(false); }
TEST(FullTrainPass, GradientMatchesFiniteDifferencesTied) { check_gradient(true); }

// Fixed tiles and sum orders: 1, 2 and 3 threads give the same bits, over several AdamW steps
// (T = 3 x 37 tokens crosses the token tiles unevenly).
TEST(FullTrainPass, BitIdenticalForAnyThreadCount) {
  const LlamaConfig c = tiny_config(true);
  const uint32_t ctx = 37;
  const auto win = random_windows(3, ctx, c.vocab_size, 5);
  std::vector<std::vector<float>> first;
  std::vector<float> first_losses;
  for (unsigned threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    AdamWOptions o;
    o.weight_decay = 0.1;
    FullStepTrainer trainer(c, ctx, 3, o, 1.0, pool);
    TrainingState state;
    state.tensors = full_tensor_shapes(c);
    init_full_tensors(state.tensors, 11);
    std::vector<float> losses;
    for (int st = 0; st < 3; ++st) {
      losses.push_back(trainer.step(spans(win), 1e-2f, state));
      ++state.step;
    }
    std::vector<std::vector<float>> values;
    for (const auto& t : state.tensors) values.push_back(t.value);
    if (threads == 1) {
      first = values;
      first_losses = losses;
      EXPECT_LT(losses.back(), losses.front());
    } else {
      EXPECT_EQ(losses, first_losses) << threads << " threads";
      EXPECT_TRUE(values == first) << threads << " threads";
    }
  }
}

TEST(FullModelTensors, SeededInitIsNormalWithTheRightSpread) {
  const LlamaConfig c = tiny_config(false);
  auto a = full_tensor_shapes(c), b = full_tensor_shapes(c);
  init_full_tensors(a, 1);
  init_full_tensors(b, 1);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].value == b[i].value);
  const std::vector<float>& e = a[0].value;  // the 40 x 32 embedding
  double sum = 0, sq = 0;
  for (float x : e) sum += x, sq += double{x} * x;
  const double mean = sum / e.size(), sd = std::sqrt(sq / e.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(sd, 0.02, 0.002);
  EXPECT_EQ(a[1].value, std::vector<float>(32, 1.0f));  // blk.0.attn_norm
  EXPECT_EQ(a.back().name, "output.weight");
}

std::string write_text(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(TrainConfig, RefusesBadFields) {
  const std::string good =
      R"("vocab_size": 40, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
         "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": true, "tokenizer": "t.model")";
  const TrainConfig cfg = read_train_config(write_text("ok.json", "{" + good + R"(, "training": {"steps": 3}})"));
  EXPECT_EQ(cfg.model.head_dim, 8u);
  EXPECT_EQ(*cfg.training.steps, 3u);
  EXPECT_EQ(cfg.tokenizer, ::testing::TempDir() + "t.model");
  for (const std::string& bad : {std::string("{") + good + R"(, "colour": 1})",
                                std::string("{") + good + R"(, "training": {"steps": 3, "epochs": 1}})",
                                std::string("{") + good + R"(, "training": {"lr_schedule": "step"}})",
                                std::string("{") + good + R"(, "training": {"min_lr": 0.1}})",
                                std::string("{") + good + R"(, "head_dim": 16})",
                                std::string(R"({"vocab_size": 40, "tokenizer": "t.model"})"),
                                std::string("[1]")}) {
    EXPECT_THROW(
        {
          const TrainConfig c = read_train_config(write_text("bad.json", bad));
          check_full_trainable(c.model, "bad.json");
        },
        Error)
        << bad;
  }
}

}  // namespace
}  // namespace lmforge
