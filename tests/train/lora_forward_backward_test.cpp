// The LoRA training pass (train/lora_forward_backward.h) on tiny random GGUF models: its
// gradient against central finite differences of its own loss, bit-identical results for any
// thread count, quantized bases, and the step trainer's AdamW and NaN handling. The float64
// PyTorch autograd and torch.optim.AdamW comparison is tests/oracles/check_train_step.py.
#include "train/lora_forward_backward.h"

#include <cmath>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "engine/tiny_llama.h"
#include "train/adamw.h"
#include "train/lora_step_trainer.h"
#include "train/lora_tensors.h"
#include "train/train_rng.h"

namespace lmforge {
namespace {

using test::TinyModel;
using test::TinySpec;

const std::vector<LoraTarget> kAll = {LoraTarget::kQ,    LoraTarget::kK,  LoraTarget::kV,   LoraTarget::kO,
                                      LoraTarget::kGate, LoraTarget::kUp, LoraTarget::kDown};

// An adapter whose B is random too (B = 0 would make every A gradient zero).
LoraAdapter random_adapter(const LlamaModel& m, uint32_t rank, uint64_t seed) {
  LoraAdapter a = init_lora_adapter(m, kAll, rank, 2.0f * rank, seed);
  TrainRng rng(seed + 1);
  for (auto& layer : a.layers)
    for (auto& p : layer)
      if (p)
        for (float& x : p->b) x = rng.uniform(-0.2f, 0.2f);
  return a;
}

std::vector<std::vector<int32_t>> random_windows(size_t n, uint32_t ctx, uint32_t vocab, uint64_t seed) {
  TrainRng rng(seed);
  std::vector<std::vector<int32_t>> w(n, std::vector<int32_t>(ctx + 1));
  for (auto& win : w)
    for (auto& t : win) t = static_cast<int32_t>(rng.below(vocab));
  return w;
}

std::vector<std::span<const int32_t>> spans(const std::vector<std::vector<int32_t>>& w) {
  return {w.begin(), w.end()};
}

LoraAdapter gradient(const LlamaModel& m, const LoraAdapter& a, const std::vector<std::vector<int32_t>>& w,
                     uint32_t ctx, unsigned threads, double* loss = nullptr) {
  ThreadPool pool(threads);
  LoraForwardBackward fb(m, a, ctx, pool);
  LoraAdapter g = zero_like(a);
  const auto s = spans(w);
  const double l = fb.accumulate(s, 1.0f, g);
  if (loss) *loss = l;
  return g;
}

// The gradient of every sampled A and B element against central differences of the loss.
void expect_gradient_matches_finite_differences(const LlamaModel& model) {
  const LlamaModel* m = &model;
  const uint32_t ctx = 6;
  LoraAdapter a = random_adapter(*m, 2, 7);
  const auto w = random_windows(2, ctx, m->n_vocab(), 8);
  double loss = 0;
  const LoraAdapter g = gradient(*m, a, w, ctx, 2, &loss);
  EXPECT_GT(loss, 0.0);
  ThreadPool pool(1);
  LoraForwardBackward fb(*m, a, ctx, pool);
  const auto s = spans(w);
  {  // loss() and accumulate() agree on the loss
    EXPECT_EQ(fb.loss(s), loss);
  }
  size_t checked = 0;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      for (bool is_b : {false, true}) {
        std::vector<float>& v = is_b ? a.layers[l][t]->b : a.layers[l][t]->a;
        const std::vector<float>& gv = is_b ? g.layers[l][t]->b : g.layers[l][t]->a;
        for (size_t i = 0; i < v.size(); i += v.size() / 5 + 1) {
          const float keep = v[i], h = 2e-2f;
          v[i] = keep + h;
          const double up = fb.loss(s);
          v[i] = keep - h;
          const double down = fb.loss(s);
          v[i] = keep;
          const double num = (up - down) / (2.0 * h);
          EXPECT_NEAR(gv[i], num, 2e-2 * std::fabs(num) + 2e-3)
              << lora_tensor_name(l, static_cast<LoraTarget>(t), is_b) << "[" << i << "]";
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 100u);
}

// The GQA model of the bit-identity tests: 128 wide, 4/2 heads, FFN 320, 300 tokens.
TinySpec gqa_spec(DType type, bool qwen2 = false) {
  TinySpec spec;
  spec.qwen2 = qwen2;
  spec.embd = 128;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.ff = 320;
  spec.vocab = 300;
  spec.matrix_type = type;
  return spec;
}

// Every pair of x equals y's, bit for bit.
void expect_same_pairs(const LoraAdapter& x, const LoraAdapter& y, std::string_view what) {
  ASSERT_EQ(x.layers.size(), y.layers.size()) << what;
  for (size_t l = 0; l < x.layers.size(); ++l) {
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      EXPECT_EQ(x.layers[l][t]->a, y.layers[l][t]->a) << what;
      EXPECT_EQ(x.layers[l][t]->b, y.layers[l][t]->b) << what;
    }
  }
}

TEST_F(TinyModel, LoraGradientMatchesFiniteDifferences) { expect_gradient_matches_finite_differences(*write(TinySpec{})); }

// Qwen2: NEOX rotation (rope_unapply_neox_f32 in the backward pass) and frozen q/k/v biases.
TEST_F(TinyModel, Qwen2LoraGradientMatchesFiniteDifferences) {
  TinySpec spec;
  spec.qwen2 = true;
  auto m = write(spec);
  ASSERT_TRUE(rope_neox(m->config()));
  ASSERT_TRUE(m->layers[0].has_qkv_bias);
  expect_gradient_matches_finite_differences(*m);
}

// Every parallel step is cut into fixed tiles: 1, 2 and 3 threads give the same bits, for float
// and quantized bases.
TEST_F(TinyModel, LoraGradientIsBitIdenticalForAnyThreadCount) {
  struct Case {
    DType type;
    bool qwen2;  // NEOX rotation and biases
  };
  for (const auto [type, qwen2] : {Case{DType::F32, false}, Case{DType::Q4_0, false}, Case{DType::Q8_0, false},
                                   Case{DType::F16, false}, Case{DType::Q8_0, true}}) {
    auto m = write(gqa_spec(type, qwen2));
    const uint32_t ctx = 20;
    const LoraAdapter a = random_adapter(*m, 4, 3);
    const auto w = random_windows(3, ctx, m->n_vocab(), 4);
    double l1 = 0, l2 = 0, l3 = 0;
    const LoraAdapter g1 = gradient(*m, a, w, ctx, 1, &l1);
    const LoraAdapter g2 = gradient(*m, a, w, ctx, 2, &l2);
    const LoraAdapter g3 = gradient(*m, a, w, ctx, 3, &l3);
    EXPECT_EQ(l1, l2) << dtype_name(type);
    EXPECT_EQ(l1, l3) << dtype_name(type);
    expect_same_pairs(g1, g2, dtype_name(type));
    expect_same_pairs(g1, g3, dtype_name(type));
  }
}

// Keeping every layer's intermediates (swapped in and out of the working buffers) and
// recomputing them give the same bits, on the first micro-batch and on later ones that reuse the
// kept sets; so does a budget just too small to keep them.
TEST_F(TinyModel, KeptAndRecomputedActivationsGiveTheSameBits) {
  for (DType type : {DType::F32, DType::Q4_0}) {
    auto m = write(gqa_spec(type));
    const uint32_t ctx = 12;
    const LoraAdapter a = random_adapter(*m, 4, 5);
    const auto w1 = random_windows(2, ctx, m->n_vocab(), 6);
    const auto w2 = random_windows(2, ctx, m->n_vocab(), 7);
    ThreadPool pool(2);
    auto run = [&](uint64_t budget) {
      LoraForwardBackward fb(*m, a, ctx, pool);
      fb.set_activation_budget(budget);
      LoraAdapter g = zero_like(a);
      std::vector<double> losses;
      for (const auto* w : {&w1, &w2, &w1}) losses.push_back(fb.accumulate(spans(*w), 0.5f, g));
      losses.push_back(fb.loss(spans(w2)));
      return std::make_pair(g, losses);
    };
    ThreadPool probe_pool(1);
    const uint64_t needed = LoraForwardBackward(*m, a, ctx, probe_pool).activation_bytes(2);
    ASSERT_GT(needed, 0u);
    const auto kept = run(needed);
    const auto recomputed = run(0);
    const auto short_by_one = run(needed - 1);
    EXPECT_EQ(kept.second, recomputed.second) << dtype_name(type);
    EXPECT_EQ(kept.second, short_by_one.second) << dtype_name(type);
    expect_same_pairs(kept.first, recomputed.first, dtype_name(type));
  }
}

TEST_F(TinyModel, LoraInitIsKaimingUniformAndZeroB) {
  auto m = write(TinySpec{});
  const LoraAdapter a = init_lora_adapter(*m, {LoraTarget::kQ, LoraTarget::kDown}, 4, 8.0f, 5);
  const LoraAdapter again = init_lora_adapter(*m, {LoraTarget::kQ, LoraTarget::kDown}, 4, 8.0f, 5);
  ASSERT_EQ(a.layers.size(), 2u);
  EXPECT_FALSE(a.layers[0][static_cast<size_t>(LoraTarget::kK)].has_value());
  const LoraPair& down = *a.layers[1][static_cast<size_t>(LoraTarget::kDown)];
  EXPECT_EQ(down.in, 64u);
  EXPECT_EQ(down.out, 32u);
  const float bound = 1.0f / std::sqrt(64.0f);
  float mx = 0;
  for (float x : down.a) {
    EXPECT_LT(std::fabs(x), bound);
    mx = std::max(mx, std::fabs(x));
  }
  EXPECT_GT(mx, 0.8f * bound);
  for (float x : down.b) EXPECT_EQ(x, 0.0f);
  EXPECT_EQ(down.a, again.layers[1][static_cast<size_t>(LoraTarget::kDown)]->a);
  EXPECT_THROW(init_lora_adapter(*m, {LoraTarget::kK}, 17, 1.0f, 0), Error);  // attn_k is 16 x 32
  EXPECT_THROW(init_lora_adapter(*m, {}, 4, 1.0f, 0), Error);
  EXPECT_THROW(init_lora_adapter(*m, kAll, 0, 1.0f, 0), Error);
}

// torch.optim.AdamW's update written out in double for two steps of one parameter.
TEST(AdamW, MatchesTheFormulaInDouble) {
  float p = 0.5f, m = 0, v = 0;
  const float g1 = 0.3f, g2 = -0.1f, lr = 0.01f;
  AdamWOptions o;
  o.weight_decay = 0.1f;
  adamw_step(&p, &m, &v, &g1, 1, lr, 1, o);
  adamw_step(&p, &m, &v, &g2, 1, lr, 2, o);
  double P = 0.5, M = 0, Vv = 0;
  for (int s = 1; s <= 2; ++s) {
    const double g = s == 1 ? 0.3 : -0.1;
    P *= 1 - 0.01 * 0.1;
    M = 0.9 * M + 0.1 * g;
    Vv = 0.999 * Vv + 0.001 * g * g;
    P -= 0.01 / (1 - std::pow(0.9, s)) * M / (std::sqrt(Vv) / std::sqrt(1 - std::pow(0.999, s)) + 1e-8);
  }
  EXPECT_NEAR(p, P, 1e-6);
  EXPECT_NEAR(m, M, 1e-7);
  EXPECT_NEAR(v, Vv, 1e-9);
}

TEST_F(TinyModel, StepTrainerUpdatesAndKeepsTensorsOnNaN) {
  auto m = write(TinySpec{});
  const uint32_t ctx = 5;
  const LoraAdapter init = init_lora_adapter(*m, kAll, 2, 4.0f, 1);
  ThreadPool pool(2);
  LoraStepTrainer trainer(*m, init, ctx, 2, AdamWOptions{}, pool);
  TrainingState state;
  state.tensors = lora_tensors(init);
  const auto w = random_windows(4, ctx, m->n_vocab(), 2);  // grad_accum 2
  const auto s = spans(w);
  const float l0 = trainer.step(s, 1e-2f, state);
  EXPECT_TRUE(std::isfinite(l0));
  EXPECT_NEAR(l0, std::log(40.0), 1.5);
  // B was 0: its first AdamW step moves every element by about lr.
  const TrainedTensor& b = state.tensors[1];
  EXPECT_EQ(b.name, "blk.0.attn_q.weight.lora_b");
  EXPECT_NEAR(std::fabs(b.value[0]), 1e-2, 1e-3);
  state.step = 1;
  // A few more steps on the same windows lower the loss.
  float last = l0;
  for (int i = 0; i < 5; ++i, ++state.step) last = trainer.step(s, 1e-2f, state);
  EXPECT_LT(last, l0);
  // A NaN in A poisons the loss: the step reports it and changes nothing.
  state.tensors[0].value[0] = std::nanf("");
  const auto before = state.tensors;
  EXPECT_FALSE(std::isfinite(trainer.step(s, 1e-2f, state)));
  for (size_t i = 1; i < before.size(); ++i) EXPECT_EQ(state.tensors[i].value, before[i].value);
  EXPECT_THROW(trainer.step(std::span(s).subspan(0, 3), 1e-2f, state), Error);  // not a whole batch
}

}  // namespace
}  // namespace lmforge
