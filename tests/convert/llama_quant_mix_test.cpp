// llama.cpp's per-tensor quantization rules (src/llama-quant.cpp: llama_tensor_get_type_impl,
// tensor_type_fallback, tensor_allows_quantization), one table per rule, as read in its source.
#include "convert/llama_quant_mix.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace lmforge {
namespace {

using T = LlamaTensor;
using R = QuantMixReason;

// A llama-2 7B: 32 layers, no grouped kv heads, its own head.
constexpr QuantMixModel k7B{32, 32, 32, false};

struct Case {
  QuantMix mix;
  T tensor;
  uint32_t layer;
  std::vector<uint64_t> shape;
  DType want;
};

DType type_of(QuantMix mix, const QuantMixModel& m, T t, uint32_t layer, const std::vector<uint64_t>& shape,
              QuantMixFlags flags = {}, DType input = DType::F16) {
  return llama_quant_tensor_type(mix, flags, m, LlamaTensorName{t, layer, false}, shape, input).type;
}

void expect_cases(const QuantMixModel& m, const std::vector<Case>& cases) {
  for (const auto& c : cases)
    EXPECT_EQ(type_of(c.mix, m, c.tensor, c.layer, c.shape), c.want)
        << quant_mix_info(c.mix).name << " " << gguf_weight_name(c.tensor, c.layer) << " gave "
        << dtype_name(type_of(c.mix, m, c.tensor, c.layer, c.shape)) << ", want " << dtype_name(c.want);
}

const std::vector<uint64_t> kSquare{4096, 4096}, kDown{4096, 11008}, kHead{32000, 4096};

TEST(LlamaQuantMix, NamesAreLlamaQuantizesCaseInsensitiveWithTheirFileTypes) {
  ASSERT_EQ(all_quant_mixes().size(), 17u);
  for (size_t i = 0; i < all_quant_mixes().size(); ++i) EXPECT_EQ(static_cast<size_t>(all_quant_mixes()[i].mix), i);
  EXPECT_EQ(quant_mix_from_name("q4_k_m"), QuantMix::Q4_K_M);
  EXPECT_EQ(quant_mix_from_name("Q8_0"), QuantMix::Q8_0);
  EXPECT_EQ(quant_mix_from_name("bf16"), QuantMix::BF16);
  EXPECT_EQ(quant_mix_from_name("Q4_K"), std::nullopt);  // a block type, not a mix
  EXPECT_EQ(quant_mix_from_name("COPY"), std::nullopt);
  EXPECT_EQ(quant_mix_from_name(""), std::nullopt);
  // LLAMA_FTYPE_* in include/llama.h.
  EXPECT_EQ(quant_mix_info(QuantMix::F32).llama_ftype, 0u);
  EXPECT_EQ(quant_mix_info(QuantMix::Q4_0).llama_ftype, 2u);
  EXPECT_EQ(quant_mix_info(QuantMix::Q2_K).llama_ftype, 10u);
  EXPECT_EQ(quant_mix_info(QuantMix::Q4_K_M).llama_ftype, 15u);
  EXPECT_EQ(quant_mix_info(QuantMix::Q6_K).llama_ftype, 18u);
  EXPECT_EQ(quant_mix_info(QuantMix::BF16).llama_ftype, 32u);
  EXPECT_EQ(quant_mix_info(QuantMix::Q3_K_L).default_type, DType::Q3_K);
  EXPECT_EQ(quant_mix_info(QuantMix::Q5_K_S).default_type, DType::Q5_K);
  EXPECT_NE(quant_mix_names().find("Q3_K_S"), std::string::npos);
}

TEST(LlamaQuantMix, VectorsNormsAndBiasesStayF32) {
  for (const auto& row : all_quant_mixes()) {
    EXPECT_EQ(type_of(row.mix, k7B, T::kAttnNorm, 0, {4096}), DType::F32);
    EXPECT_EQ(type_of(row.mix, k7B, T::kOutputNorm, 0, {4096}), DType::F32);
    const auto bias = llama_quant_tensor_type(row.mix, {}, k7B, {T::kAttnQ, 0, true}, std::vector<uint64_t>{4096}, DType::F16);
    EXPECT_EQ(bias.type, DType::F32);
    EXPECT_EQ(bias.reason, R::kNotQuantized);
  }
}

TEST(LlamaQuantMix, FloatMixesGiveEveryMatrixTheirTypeWithoutRulesOrFallbacks) {
  for (QuantMix mix : {QuantMix::F32, QuantMix::F16, QuantMix::BF16}) {
    const DType t = quant_mix_info(mix).default_type;
    for (T id : {T::kTokenEmbd, T::kAttnV, T::kFfnDown, T::kOutput}) {
      EXPECT_EQ(type_of(mix, k7B, id, 0, kHead), t);
      EXPECT_EQ(type_of(mix, k7B, id, 0, {48, 33}), t);  // odd rows: no fallback for floats
    }
  }
}

TEST(LlamaQuantMix, OutputHeadIsQ6KOrQ8_0) {
  expect_cases(k7B, {
      {QuantMix::Q4_0, T::kOutput, 0, kHead, DType::Q6_K},
      {QuantMix::Q4_1, T::kOutput, 0, kHead, DType::Q6_K},
      {QuantMix::Q5_1, T::kOutput, 0, kHead, DType::Q6_K},
      {QuantMix::Q2_K, T::kOutput, 0, kHead, DType::Q6_K},
      {QuantMix::Q4_K_M, T::kOutput, 0, kHead, DType::Q6_K},
      {QuantMix::Q6_K, T::kOutput, 0, kHead, DType::Q6_K},
      {QuantMix::Q8_0, T::kOutput, 0, kHead, DType::Q8_0},
      // Rows not whole blocks of the mix's type: Q8_0 (4000 is 125 blocks of 32, not of 256).
      {QuantMix::Q4_K_M, T::kOutput, 0, {32000, 4000}, DType::Q8_0},
      // Whole Q4_0 blocks, so Q6_K first, then the fallback for 256: Q8_0.
      {QuantMix::Q4_0, T::kOutput, 0, {32000, 4000}, DType::Q8_0},
      // Not even 32: F16.
      {QuantMix::Q4_0, T::kOutput, 0, {32000, 48}, DType::F16},
      // An untied embedding is the mix's default type.
      {QuantMix::Q4_K_M, T::kTokenEmbd, 0, kHead, DType::Q4_K},
      {QuantMix::Q4_0, T::kTokenEmbd, 0, kHead, DType::Q4_0},
  });
  const auto head = llama_quant_tensor_type(QuantMix::Q4_0, {}, k7B, {T::kOutput}, kHead, DType::F16);
  EXPECT_EQ(head.reason, R::kOutputHead);
  const auto fell = llama_quant_tensor_type(QuantMix::Q4_0, {}, k7B, {T::kOutput}, std::vector<uint64_t>{32000, 4000}, DType::F16);
  EXPECT_EQ(fell.reason, R::kFallback);
}

TEST(LlamaQuantMix, TiedEmbeddingFollowsTheHeadRule) {
  const QuantMixModel tied{32, 32, 32, true};
  expect_cases(tied, {
      {QuantMix::Q4_K_M, T::kTokenEmbd, 0, kHead, DType::Q6_K},
      {QuantMix::Q8_0, T::kTokenEmbd, 0, kHead, DType::Q8_0},
      {QuantMix::Q4_0, T::kTokenEmbd, 0, {32000, 4000}, DType::Q8_0},
  });
  const QuantMixModel m = quant_mix_model(LlamaConfig{}, /*has_output_tensor=*/false);
  EXPECT_TRUE(m.tied_embeddings);
}

TEST(LlamaQuantMix, Q4KMAndQ5KMGiveAttnVAndFfnDownQ6KByUseMoreBits) {
  // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2.
  const std::vector<uint32_t> more{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  for (uint32_t layer = 0; layer < 32; ++layer) {
    const bool bumped = std::find(more.begin(), more.end(), layer) != more.end();
    expect_cases(k7B, {
        {QuantMix::Q4_K_M, T::kAttnV, layer, kSquare, bumped ? DType::Q6_K : DType::Q4_K},
        {QuantMix::Q4_K_M, T::kFfnDown, layer, kDown, bumped ? DType::Q6_K : DType::Q4_K},
        {QuantMix::Q5_K_M, T::kAttnV, layer, kSquare, bumped ? DType::Q6_K : DType::Q5_K},
        {QuantMix::Q5_K_M, T::kFfnDown, layer, kDown, bumped ? DType::Q6_K : DType::Q5_K},
        {QuantMix::Q4_K_M, T::kAttnQ, layer, kSquare, DType::Q4_K},
        {QuantMix::Q4_K_M, T::kAttnK, layer, kSquare, DType::Q4_K},
        {QuantMix::Q4_K_M, T::kAttnOutput, layer, kSquare, DType::Q4_K},
        {QuantMix::Q4_K_M, T::kFfnGate, layer, {11008, 4096}, DType::Q4_K},
        {QuantMix::Q4_K_M, T::kFfnUp, layer, {11008, 4096}, DType::Q4_K},
        {QuantMix::Q5_K_S, T::kAttnV, layer, kSquare, DType::Q5_K},
        {QuantMix::Q6_K, T::kFfnDown, layer, kDown, DType::Q6_K},
    });
  }
  const auto r = llama_quant_tensor_type(QuantMix::Q4_K_M, {}, k7B, {T::kAttnV, 0}, kSquare, DType::F16);
  EXPECT_EQ(r.reason, R::kMoreBits);
}

TEST(LlamaQuantMix, Q3KAndQ4KSLayerRules) {
  expect_cases(k7B, {
      // Q3_K_M: attn_v Q5_K in the first two layers, else Q4_K; ffn_down Q5_K below n/16, else Q4_K.
      {QuantMix::Q3_K_M, T::kAttnV, 0, kSquare, DType::Q5_K},
      {QuantMix::Q3_K_M, T::kAttnV, 1, kSquare, DType::Q5_K},
      {QuantMix::Q3_K_M, T::kAttnV, 2, kSquare, DType::Q4_K},
      {QuantMix::Q3_K_M, T::kFfnDown, 1, kDown, DType::Q5_K},
      {QuantMix::Q3_K_M, T::kFfnDown, 2, kDown, DType::Q4_K},
      {QuantMix::Q3_K_M, T::kAttnOutput, 7, kSquare, DType::Q4_K},
      {QuantMix::Q3_K_M, T::kAttnQ, 7, kSquare, DType::Q3_K},
      // Q3_K_L: attn_v, ffn_down and attn_output Q5_K everywhere.
      {QuantMix::Q3_K_L, T::kAttnV, 20, kSquare, DType::Q5_K},
      {QuantMix::Q3_K_L, T::kFfnDown, 20, kDown, DType::Q5_K},
      {QuantMix::Q3_K_L, T::kAttnOutput, 20, kSquare, DType::Q5_K},
      {QuantMix::Q3_K_L, T::kFfnUp, 20, {11008, 4096}, DType::Q3_K},
      // Q3_K_S: no rule but the head's.
      {QuantMix::Q3_K_S, T::kAttnV, 0, kSquare, DType::Q3_K},
      {QuantMix::Q3_K_S, T::kFfnDown, 0, kDown, DType::Q3_K},
      {QuantMix::Q3_K_S, T::kOutput, 0, kHead, DType::Q6_K},
      // Q4_K_S: attn_v in the first four layers, ffn_down below n/8: Q5_K.
      {QuantMix::Q4_K_S, T::kAttnV, 3, kSquare, DType::Q5_K},
      {QuantMix::Q4_K_S, T::kAttnV, 4, kSquare, DType::Q4_K},
      {QuantMix::Q4_K_S, T::kFfnDown, 3, kDown, DType::Q5_K},
      {QuantMix::Q4_K_S, T::kFfnDown, 4, kDown, DType::Q4_K},
      // Q2_K: attn_v Q3_K (Q4_K with n_gqa >= 4), ffn_down and attn_output Q3_K.
      {QuantMix::Q2_K, T::kAttnV, 9, kSquare, DType::Q3_K},
      {QuantMix::Q2_K, T::kFfnDown, 9, kDown, DType::Q3_K},
      {QuantMix::Q2_K, T::kAttnOutput, 9, kSquare, DType::Q3_K},
      {QuantMix::Q2_K, T::kAttnQ, 9, kSquare, DType::Q2_K},
      // Legacy mixes have no layer rule (without an importance matrix).
      {QuantMix::Q4_0, T::kFfnDown, 0, kDown, DType::Q4_0},
      {QuantMix::Q5_0, T::kAttnV, 0, kSquare, DType::Q5_0},
  });
  const QuantMixModel gqa8{32, 32, 8, false};  // n_gqa 4
  expect_cases(gqa8, {{QuantMix::Q2_K, T::kAttnV, 9, {1024, 4096}, DType::Q4_K}});
  const QuantMixModel gqa2{32, 32, 16, false};
  expect_cases(gqa2, {{QuantMix::Q2_K, T::kAttnV, 9, {2048, 4096}, DType::Q3_K}});
  // n/16 and n/8 are integer divisions: 12 layers have none below 12/16 = 0, one below 12/8 = 1.
  const QuantMixModel twelve{12, 12, 12, false};
  expect_cases(twelve, {{QuantMix::Q3_K_M, T::kFfnDown, 0, kDown, DType::Q4_K},
                        {QuantMix::Q4_K_S, T::kFfnDown, 0, kDown, DType::Q5_K},
                        {QuantMix::Q4_K_S, T::kFfnDown, 1, kDown, DType::Q4_K}});
}

TEST(LlamaQuantMix, SeventyBAttnVGetsFiveBitsInsteadOfThreeOrFour) {
  const QuantMixModel l70b{80, 64, 8, false};  // LLM_TYPE_70B: 80 layers, n_head != n_head_kv
  const QuantMixModel l65b{80, 64, 64, false};  // LLM_TYPE_65B: no bump
  // use_more_bits(11, 80) is false: 11 >= 10, 11 < 70, (11 - 10) % 3 == 1.
  expect_cases(l70b, {
      {QuantMix::Q3_K_S, T::kAttnV, 11, {1024, 8192}, DType::Q5_K},
      {QuantMix::Q4_K_M, T::kAttnV, 11, {1024, 8192}, DType::Q5_K},
      {QuantMix::Q4_K_M, T::kAttnV, 0, {1024, 8192}, DType::Q6_K},
      {QuantMix::Q2_K, T::kAttnV, 11, {1024, 8192}, DType::Q5_K},
      {QuantMix::Q3_K_S, T::kAttnQ, 11, {8192, 8192}, DType::Q3_K},
  });
  expect_cases(l65b, {{QuantMix::Q3_K_S, T::kAttnV, 11, {8192, 8192}, DType::Q3_K},
                      {QuantMix::Q4_K_M, T::kAttnV, 11, {8192, 8192}, DType::Q4_K}});
}

TEST(LlamaQuantMix, RowsNotWholeBlocksFallBack) {
  const QuantMixFlags pure{true, false};
  const std::vector<uint64_t> rows4000{64, 4000}, rows48{64, 48};
  const std::pair<QuantMix, DType> falls[] = {
      {QuantMix::Q2_K, DType::Q4_0}, {QuantMix::Q3_K_S, DType::Q4_0}, {QuantMix::Q4_K_S, DType::Q5_0},
      {QuantMix::Q5_K_M, DType::Q5_1}, {QuantMix::Q6_K, DType::Q8_0}, {QuantMix::Q4_0, DType::Q4_0},
      {QuantMix::Q5_1, DType::Q5_1}, {QuantMix::Q8_0, DType::Q8_0}};
  for (const auto& [mix, want] : falls) {
    EXPECT_EQ(type_of(mix, k7B, T::kAttnQ, 5, rows4000, pure), want) << quant_mix_info(mix).name;
    EXPECT_EQ(type_of(mix, k7B, T::kAttnQ, 5, rows48, pure), DType::F16) << quant_mix_info(mix).name;
    EXPECT_EQ(type_of(mix, k7B, T::kAttnQ, 5, rows4000), want) << quant_mix_info(mix).name;
  }
  // After a mixture rule: Q6_K for layer 0's attn_v falls back to Q8_0.
  expect_cases(k7B, {{QuantMix::Q4_K_M, T::kAttnV, 0, rows4000, DType::Q8_0},
                     {QuantMix::Q3_K_L, T::kFfnDown, 3, rows4000, DType::Q5_1},
                     {QuantMix::Q4_K_M, T::kAttnV, 0, rows48, DType::F16}});
  EXPECT_EQ(llama_quant_tensor_type(QuantMix::Q6_K, {}, k7B, {T::kAttnQ}, rows48, DType::F16).reason, R::kFallbackF16);
}

TEST(LlamaQuantMix, PureSkipsTheMixtureRulesHeadIncluded) {
  const QuantMixFlags pure{true, false};
  EXPECT_EQ(type_of(QuantMix::Q4_K_M, k7B, T::kAttnV, 0, kSquare, pure), DType::Q4_K);
  EXPECT_EQ(type_of(QuantMix::Q4_K_M, k7B, T::kOutput, 0, kHead, pure), DType::Q4_K);
  EXPECT_EQ(type_of(QuantMix::Q4_0, k7B, T::kOutput, 0, kHead, pure), DType::Q4_0);
  EXPECT_EQ(type_of(QuantMix::Q2_K, k7B, T::kFfnDown, 0, kDown, pure), DType::Q2_K);
  EXPECT_EQ(type_of(QuantMix::Q4_0, k7B, T::kAttnNorm, 0, {4096}, pure), DType::F32);
}

TEST(LlamaQuantMix, LeaveOutputTensorKeepsTheHeadsInputType) {
  const QuantMixFlags leave{false, true};
  const auto head = llama_quant_tensor_type(QuantMix::Q4_K_M, leave, k7B, {T::kOutput}, kHead, DType::BF16);
  EXPECT_EQ(head.type, DType::BF16);
  EXPECT_EQ(head.reason, R::kKeptAsIs);
  // A tied embedding is not output.weight: it still gets the head's rule.
  const QuantMixModel tied{32, 32, 32, true};
  EXPECT_EQ(type_of(QuantMix::Q4_K_M, tied, T::kTokenEmbd, 0, kHead, leave), DType::Q6_K);
}

}  // namespace
}  // namespace lmforge
