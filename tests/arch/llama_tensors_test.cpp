// The llama tensor table: every row round-trips through every spelling, no two rows share a
// spelling, shapes follow a GQA config, and the orders and roles are llama.cpp's and Meta's.
#include "arch/llama/llama_tensors.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "arch/llama/llama_names.h"

namespace lmforge {
namespace {

constexpr LlamaSpelling kAll[] = {LlamaSpelling::kGguf, LlamaSpelling::kHuggingFace, LlamaSpelling::kMeta, LlamaSpelling::kOnnxMatMul};

bool has_bias(LlamaSpelling s) { return s == LlamaSpelling::kGguf || s == LlamaSpelling::kHuggingFace; }

TEST(LlamaTensors, RowsAreIndexedByTheirId) {
  const auto table = llama_tensor_table();
  ASSERT_EQ(table.size(), 12u);
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(table[i].id), i);
    EXPECT_EQ(&llama_tensor_row(table[i].id), &table[i]);
  }
}

TEST(LlamaTensors, EveryRowRoundTripsThroughEverySpelling) {
  for (const auto& row : llama_tensor_table()) {
    for (const uint32_t layer : {0u, 7u, 123456u}) {
      if (!row.per_layer && layer != 0) continue;
      for (const bool bias : {false, true}) {
        const LlamaTensorName t{row.id, layer, bias};
        for (const LlamaSpelling s : kAll) {
          const auto spelled = spell_llama_tensor(t, s);
          if (bias && !has_bias(s)) {
            EXPECT_FALSE(spelled) << row.gguf << " bias in spelling " << static_cast<int>(s);
            continue;
          }
          ASSERT_TRUE(spelled) << row.gguf << " spelling " << static_cast<int>(s);
          const auto back = parse_llama_tensor_name(*spelled, s);
          ASSERT_TRUE(back) << *spelled;
          EXPECT_EQ(back->id, row.id) << *spelled;
          EXPECT_EQ(back->layer, layer) << *spelled;
          EXPECT_EQ(back->bias, bias) << *spelled;
        }
      }
    }
  }
}

TEST(LlamaTensors, SpellingsAreTheOnesFilesUse) {
  const LlamaTensorName q{LlamaTensor::kAttnQ, 3, false};
  EXPECT_EQ(spell_llama_tensor(q, LlamaSpelling::kGguf), "blk.3.attn_q.weight");
  EXPECT_EQ(spell_llama_tensor(q, LlamaSpelling::kHuggingFace), "model.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(spell_llama_tensor(q, LlamaSpelling::kMeta), "layers.3.attention.wq.weight");
  EXPECT_EQ(spell_llama_tensor(q, LlamaSpelling::kOnnxMatMul), "/model/layers.3/self_attn/q_proj/MatMul");
  EXPECT_EQ(spell_llama_tensor({LlamaTensor::kOutput, 0, false}, LlamaSpelling::kOnnxMatMul), "/lm_head/MatMul");
  EXPECT_EQ(spell_llama_tensor({LlamaTensor::kTokenEmbd, 0, false}, LlamaSpelling::kMeta), "tok_embeddings.weight");
  EXPECT_EQ(gguf_weight_name(LlamaTensor::kFfnDown, 2), "blk.2.ffn_down.weight");
  // torch numbers repeated MatMuls ("MatMul_1"); the leading slash is optional.
  const auto n = parse_llama_tensor_name("model/layers.0/mlp/down_proj/MatMul_1", LlamaSpelling::kOnnxMatMul);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->id, LlamaTensor::kFfnDown);
  EXPECT_FALSE(parse_llama_tensor_name("/model/layers.0/mlp/down_proj/Add", LlamaSpelling::kOnnxMatMul));
  EXPECT_FALSE(parse_llama_tensor_name("layers.0.attention.wq.bias", LlamaSpelling::kMeta));  // Meta has no biases
  EXPECT_FALSE(parse_llama_tensor_name("blk.01.attn_q.weight", LlamaSpelling::kGguf));       // one spelling per number
  EXPECT_FALSE(parse_llama_tensor_name("blk.1234567.attn_q.weight", LlamaSpelling::kGguf));
  EXPECT_FALSE(parse_llama_tensor_name("blk.0.attn_q", LlamaSpelling::kGguf));
  // The string helpers of llama_names.h read the same table.
  EXPECT_EQ(meta_to_gguf_name("layers.5.feed_forward.w3.weight"), "blk.5.ffn_up.weight");
  EXPECT_EQ(gguf_to_meta_name("output_norm.weight"), "norm.weight");
  EXPECT_FALSE(gguf_to_meta_name("blk.0.attn_q.bias"));
}

TEST(LlamaTensors, NoTwoRowsShareASpelling) {
  for (const LlamaSpelling s : kAll) {
    std::set<std::string> seen;
    for (const auto& row : llama_tensor_table()) {
      const auto name = spell_llama_tensor({row.id, 0, false}, s);
      ASSERT_TRUE(name);
      EXPECT_TRUE(seen.insert(*name).second) << "two rows spell " << *name;
    }
  }
}

TEST(LlamaTensors, ShapesFollowAGqaConfig) {
  LlamaConfig c;
  c.vocab_size = 450, c.hidden_size = 96, c.intermediate_size = 160, c.num_hidden_layers = 2;
  c.num_attention_heads = 6, c.num_key_value_heads = 2, c.head_dim = 16;
  using S = std::vector<uint64_t>;
  using T = LlamaTensor;
  auto shape = [&](T id, bool bias = false, uint32_t layer = 1) { return llama_tensor_shape(LlamaTensorName{id, layer, bias}, c); };
  EXPECT_EQ(shape(T::kTokenEmbd), (S{450, 96}));
  EXPECT_EQ(shape(T::kOutput), (S{450, 96}));
  EXPECT_EQ(shape(T::kAttnQ), (S{96, 96}));
  EXPECT_EQ(shape(T::kAttnK), (S{32, 96}));
  EXPECT_EQ(shape(T::kAttnV), (S{32, 96}));
  EXPECT_EQ(shape(T::kAttnK, true), (S{32}));
  EXPECT_EQ(shape(T::kAttnOutput), (S{96, 96}));
  EXPECT_EQ(shape(T::kFfnGate), (S{160, 96}));
  EXPECT_EQ(shape(T::kFfnUp), (S{160, 96}));
  EXPECT_EQ(shape(T::kFfnDown), (S{96, 160}));
  EXPECT_EQ(shape(T::kAttnNorm), (S{96}));
  EXPECT_EQ(shape(T::kOutputNorm), (S{96}));
  EXPECT_FALSE(shape(T::kFfnNorm, true));            // norms have no bias
  EXPECT_FALSE(shape(T::kAttnQ, false, 2));          // no third layer
  c.num_attention_heads = 4, c.head_dim = 32;        // head_dim * heads != hidden is allowed
  EXPECT_EQ(shape(T::kAttnOutput), (S{96, 128}));
}

TEST(LlamaTensors, RolesSplitsAndOrders) {
  for (const auto& row : llama_tensor_table()) {
    const RotaryRole want = row.id == LlamaTensor::kAttnQ ? RotaryRole::kQuery : row.id == LlamaTensor::kAttnK ? RotaryRole::kKey : RotaryRole::kNone;
    EXPECT_EQ(row.rotary, want) << row.gguf;
  }
  // fairscale: column-parallel (q, k, v, w1, w3, output) by rows, row-parallel (wo, w2) by columns.
  EXPECT_EQ(llama_tensor_row(LlamaTensor::kAttnV).meta_split, MetaSplit::kRows);
  EXPECT_EQ(llama_tensor_row(LlamaTensor::kFfnDown).meta_split, MetaSplit::kCols);
  EXPECT_EQ(llama_tensor_row(LlamaTensor::kAttnOutput).meta_split, MetaSplit::kCols);
  EXPECT_EQ(llama_tensor_row(LlamaTensor::kOutput).meta_split, MetaSplit::kRows);
  EXPECT_EQ(llama_tensor_row(LlamaTensor::kTokenEmbd).meta_split, MetaSplit::kByShape);
  EXPECT_EQ(llama_tensor_row(LlamaTensor::kFfnNorm).meta_split, MetaSplit::kReplicated);
  // GGUF order: embedding, layer 0 (attn_norm, q, k, v, o, ffn_norm, gate, down, up; weight
  // before bias), layer 1, ..., output norm, head.
  using T = LlamaTensor;
  const LlamaTensorName in_order[] = {{T::kTokenEmbd, 0, false}, {T::kAttnNorm, 0, false}, {T::kAttnQ, 0, false},
                                      {T::kAttnQ, 0, true},      {T::kAttnK, 0, false},    {T::kFfnUp, 0, false},
                                      {T::kAttnNorm, 1, false},  {T::kFfnUp, 10, false},   {T::kOutputNorm, 0, false},
                                      {T::kOutput, 0, false}};
  for (size_t i = 1; i < std::size(in_order); ++i)
    EXPECT_LT(llama_gguf_order(in_order[i - 1]), llama_gguf_order(in_order[i])) << i;
  // Meta's per-layer state-dict order: wq wk wv wo w1 w2 w3 attention_norm ffn_norm.
  std::vector<std::string_view> meta;
  for (uint8_t k = 0; k < 9; ++k)
    for (const auto& row : llama_tensor_table())
      if (row.per_layer && row.meta_order == k) meta.push_back(row.meta);
  EXPECT_EQ(meta, (std::vector<std::string_view>{"attention.wq", "attention.wk", "attention.wv", "attention.wo", "feed_forward.w1",
                                                 "feed_forward.w2", "feed_forward.w3", "attention_norm", "ffn_norm"}));
  EXPECT_TRUE(is_ignored_llama_tensor("rope.freqs", LlamaSpelling::kMeta));
  EXPECT_TRUE(is_ignored_llama_tensor("rope_freqs.weight", LlamaSpelling::kGguf));
  EXPECT_TRUE(is_ignored_llama_tensor("model.layers.0.self_attn.rotary_emb.inv_freq", LlamaSpelling::kHuggingFace));
  EXPECT_FALSE(is_ignored_llama_tensor("model.norm.weight", LlamaSpelling::kHuggingFace));
}

}  // namespace
}  // namespace lmforge
