// LlamaConfig from Meta's params.json.
#include "arch/llama/llama_config_meta.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace lmforge {
namespace {

TEST(LlamaConfigMeta, FfnWidthFollowsModelPy) {
  // Published shapes: LLaMA 7B 11008, TinyLlama-shape 2048 -> 5632, Llama 2 70B 28672,
  // Llama 3 8B 14336.
  EXPECT_EQ(meta_ffn_width(4096, 256, std::nullopt), 11008u);
  EXPECT_EQ(meta_ffn_width(2048, 256, std::nullopt), 5632u);
  EXPECT_EQ(meta_ffn_width(8192, 4096, 1.3), 28672u);
  EXPECT_EQ(meta_ffn_width(4096, 1024, 1.3), 14336u);
}

TEST(LlamaConfigMeta, ParamsJson) {
  nlohmann::json p = {{"dim", 64}, {"n_layers", 2}, {"n_heads", 4}, {"n_kv_heads", 2}, {"vocab_size", -1},
                      {"multiple_of", 32}, {"norm_eps", 1e-6}};
  LlamaConfig c = meta_config_from_params(p, "params.json");
  EXPECT_EQ(c.head_dim, 16u);
  EXPECT_EQ(c.num_key_value_heads, 2u);
  EXPECT_EQ(c.vocab_size, 0u);  // left to the embedding
  EXPECT_EQ(c.intermediate_size, 192u);
  EXPECT_EQ(c.max_position_embeddings, 2048u);
  // nested under "model", as some releases do
  LlamaConfig n = meta_config_from_params({{"model", p}}, "params.json");
  EXPECT_EQ(n.hidden_size, 64u);
  EXPECT_THROW(meta_config_from_params({{"dim", 64}, {"n_layers", 2}, {"n_heads", 5}}, "params.json"), Error);
  EXPECT_THROW(meta_config_from_params({{"dim", "64"}, {"n_layers", 2}, {"n_heads", 4}}, "params.json"), Error);
}

}  // namespace
}  // namespace lmforge
