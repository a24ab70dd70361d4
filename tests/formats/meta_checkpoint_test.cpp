#include "formats/meta_checkpoint.h"

#include <gtest/gtest.h>

#include "formats/torch_fixture_suite.h"
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "formats/pytorch_reader.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;

TEST(MetaCheckpoint, FfnWidthFollowsModelPy) {
  // Published shapes: LLaMA 7B 11008, TinyLlama-shape 2048 -> 5632, Llama 2 70B 28672,
  // Llama 3 8B 14336.
  EXPECT_EQ(meta_ffn_width(4096, 256, std::nullopt), 11008u);
  EXPECT_EQ(meta_ffn_width(2048, 256, std::nullopt), 5632u);
  EXPECT_EQ(meta_ffn_width(8192, 4096, 1.3), 28672u);
  EXPECT_EQ(meta_ffn_width(4096, 1024, 1.3), 14336u);
}

TEST(MetaCheckpoint, ParamsJson) {
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

// Shards written by Debian's torch 1.13, each tensor cut as Meta's model-parallel layers cut
// it, plus expected.pt holding torch.cat of the pieces; the suite is skipped without torch.
constexpr const char* kGenerator = R"PY(
import sys, os, json, shutil, torch
out = sys.argv[1]
p = {"dim": 8, "n_layers": 1, "n_heads": 2, "n_kv_heads": 2, "vocab_size": -1, "multiple_of": 4, "norm_eps": 1e-5}
g = torch.Generator().manual_seed(1)
full = {"tok_embeddings.weight": torch.randn(6, 8, generator=g), "norm.weight": torch.randn(8, generator=g),
        "output.weight": torch.randn(6, 8, generator=g)}
for n, s in [("attention.wq", (8, 8)), ("attention.wk", (8, 8)), ("attention.wv", (8, 8)), ("attention.wo", (8, 8)),
             ("feed_forward.w1", (24, 8)), ("feed_forward.w2", (8, 24)), ("feed_forward.w3", (24, 8)),
             ("attention_norm", (8,)), ("ffn_norm", (8,))]:
    full["layers.0.%s.weight" % n] = torch.randn(*s, generator=g)
dim = {"attention.wq": 0, "attention.wk": 0, "attention.wv": 0, "feed_forward.w1": 0, "feed_forward.w3": 0,
       "output": 0, "attention.wo": 1, "feed_forward.w2": 1, "tok_embeddings": 1}
def kind(name):
    base = name[:-len(".weight")]
    return base.split(".", 2)[2] if base.startswith("layers.") else base
d = os.path.join(out, "meta")
os.makedirs(d)
for k in range(2):
    shard = {}
    for name, t in full.items():
        sd = dim.get(kind(name))
        shard[name] = t.clone() if sd is None else torch.chunk(t, 2, sd)[k].clone()
    torch.save(shard, os.path.join(d, "consolidated.%02d.pth" % k))
json.dump(p, open(os.path.join(d, "params.json"), "w"))
torch.save(full, os.path.join(out, "expected.pt"))
gap = os.path.join(out, "gap"); shutil.copytree(d, gap)
os.rename(os.path.join(gap, "consolidated.01.pth"), os.path.join(gap, "consolidated.03.pth"))
bad = os.path.join(out, "bad"); shutil.copytree(d, bad)
s = torch.load(os.path.join(bad, "consolidated.01.pth")); s["layers.0.feed_forward.w2.weight"] = torch.zeros(8, 4)
torch.save(s, os.path.join(bad, "consolidated.01.pth"))
lie = os.path.join(out, "lie"); shutil.copytree(d, lie)
json.dump(dict(p, dim=16, n_heads=4), open(os.path.join(lie, "params.json"), "w"))
)PY";

class MetaShards : public TorchFixtureSuite<MetaShards> {
 public:
  static constexpr const char* kTag = "meta";
  static constexpr const char* kScript = kGenerator;

 protected:
  static std::string error_of(const char* name) {
    try {
      open_meta_llama(path(name));
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << name << " opened but should have been refused";
    return "";
  }
};

TEST_F(MetaShards, MergedTensorsEqualTorchCat) {
  EXPECT_TRUE(is_meta_checkpoint_dir(path("meta")));
  EXPECT_FALSE(is_meta_checkpoint_dir(path("expected.pt")));
  LlamaModelSource m = open_meta_llama(path("meta"));
  EXPECT_EQ(m.naming, LlamaNaming::kMeta);
  EXPECT_EQ(m.config.vocab_size, 6u);
  EXPECT_EQ(m.config.intermediate_size, 24u);
  auto expected = open_pytorch_checkpoint(path("expected.pt"));
  ASSERT_EQ(m.weights->tensors().size(), expected->tensors().size());
  for (size_t i = 0; i < expected->tensors().size(); ++i) {
    const TensorInfo& want = expected->tensors()[i];
    const ptrdiff_t j = m.weights->find(want.name);
    ASSERT_GE(j, 0) << want.name;
    EXPECT_EQ(m.weights->tensors()[static_cast<size_t>(j)].shape, want.shape) << want.name;
    auto a = m.weights->read(static_cast<size_t>(j));
    auto b = expected->read(i);
    ASSERT_EQ(a.size(), b.size()) << want.name;
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size())) << want.name;
  }
}

TEST_F(MetaShards, BadFoldersAreRefused) {
  EXPECT_NE(error_of("gap").find("consolidated.03.pth"), std::string::npos);
  EXPECT_NE(error_of("bad").find("layers.0.feed_forward.w2.weight"), std::string::npos);
  EXPECT_NE(error_of("lie").find("params.json"), std::string::npos);
}

}  // namespace
}  // namespace lmforge
