#include "arch/llama/llama_names.h"

#include <gtest/gtest.h>

#include <set>

namespace lmforge {
namespace {

TEST(LlamaNames, MapsBothWays) {
  EXPECT_EQ(hf_to_gguf_name("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(hf_to_gguf_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(hf_to_gguf_name("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.12.self_attn.k_proj.weight"), "blk.12.attn_k.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.0.self_attn.q_proj.bias"), "blk.0.attn_q.bias");
  EXPECT_EQ(hf_to_gguf_name("model.layers.3.mlp.down_proj.weight"), "blk.3.ffn_down.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.3.post_attention_layernorm.weight"), "blk.3.ffn_norm.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.7.ffn_up.weight"), "model.layers.7.mlp.up_proj.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.7.attn_output.weight"), "model.layers.7.self_attn.o_proj.weight");
}

TEST(LlamaNames, RejectsWhatIsNotALlamaTensor) {
  EXPECT_FALSE(hf_to_gguf_name("model.layers.x.self_attn.q_proj.weight"));
  EXPECT_FALSE(hf_to_gguf_name("model.layers.01.self_attn.q_proj.weight"));
  EXPECT_FALSE(hf_to_gguf_name("model.layers.1.self_attn.q_proj"));
  EXPECT_FALSE(hf_to_gguf_name("model.layers.1.self_attn.qkv_proj.weight"));
  EXPECT_FALSE(hf_to_gguf_name("model.layers.1.self_attn.q_proj.weight.extra"));
  EXPECT_FALSE(gguf_to_hf_name("blk..attn_q.weight"));
  EXPECT_TRUE(is_ignored_hf_tensor("model.layers.0.self_attn.rotary_emb.inv_freq"));
}

TEST(LlamaNames, RotaryPermutationMatchesTheReferenceFormula) {
  // Reference (from the HF -> GGUF converter's definition): reshape rows as
  // [heads, 2, hd/2] and swap the last two axes: out[h*hd + 2*i + j] = in[h*hd + j*hd/2 + i].
  const uint64_t hd = 8, heads = 3;
  for (uint64_t h = 0; h < heads; ++h)
    for (uint64_t i = 0; i < hd / 2; ++i)
      for (uint64_t j = 0; j < 2; ++j)
        EXPECT_EQ(hf_row_for_gguf_row(h * hd + 2 * i + j, hd), h * hd + j * (hd / 2) + i);
  std::set<uint64_t> seen;
  for (uint64_t r = 0; r < hd * heads; ++r) {
    seen.insert(hf_row_for_gguf_row(r, hd));
    EXPECT_EQ(gguf_row_for_hf_row(hf_row_for_gguf_row(r, hd), hd), r);
  }
  EXPECT_EQ(seen.size(), hd * heads);  // a permutation
  EXPECT_EQ(rotary_role("blk.0.attn_q.weight"), RotaryRole::kQuery);
  EXPECT_EQ(rotary_role("blk.0.attn_k.bias"), RotaryRole::kKey);
  EXPECT_EQ(rotary_role("blk.0.attn_v.weight"), RotaryRole::kNone);
}

TEST(LlamaNames, ShapesFollowTheConfigIncludingGqa) {
  LlamaConfig c;
  c.vocab_size = 450;
  c.hidden_size = 96;
  c.intermediate_size = 160;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  using S = std::vector<uint64_t>;
  EXPECT_EQ(llama_tensor_shape("token_embd.weight", c), (S{450, 96}));
  EXPECT_EQ(llama_tensor_shape("blk.1.attn_k.weight", c), (S{32, 96}));
  EXPECT_EQ(llama_tensor_shape("blk.1.attn_k.bias", c), (S{32}));
  EXPECT_EQ(llama_tensor_shape("blk.0.attn_output.weight", c), (S{96, 96}));
  EXPECT_EQ(llama_tensor_shape("blk.0.ffn_down.weight", c), (S{96, 160}));
  EXPECT_EQ(llama_tensor_shape("output_norm.weight", c), (S{96}));
  EXPECT_FALSE(llama_tensor_shape("blk.2.attn_q.weight", c));  // no third layer
  EXPECT_FALSE(llama_tensor_shape("blk.0.attn_norm.bias", c));
}

}  // namespace
}  // namespace lmforge
