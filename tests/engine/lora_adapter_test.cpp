// LoRA adapter files: target names, GGUF and PEFT round trips (bytes deterministic, Q/K rows of
// B permuted to Hugging Face order and back), and refusals: another base, unknown targets,
// mixed ranks, rsLoRA folded, DoRA refused, truncated files.
#include "engine/lora_adapter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "arch/llama/llama_names.h"
#include "core/error.h"
#include "formats/safetensors_reader.h"
#include "lora_test_util.h"
#include "tiny_llama.h"

namespace lmforge {
namespace {

namespace fs = std::filesystem;
using test::TinySpec;
using LoraFiles = test::TinyModel;

const std::vector<LoraTarget> kAll = {LoraTarget::kQ, LoraTarget::kK,  LoraTarget::kV,   LoraTarget::kO,
                                      LoraTarget::kGate, LoraTarget::kUp, LoraTarget::kDown};

std::string temp(const std::string& name) { return (fs::path(::testing::TempDir()) / ("lora_" + name)).string(); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_same(const LoraAdapter& x, const LoraAdapter& y) {
  EXPECT_EQ(x.rank, y.rank);
  EXPECT_FLOAT_EQ(x.alpha == 0 ? float(x.rank) : x.alpha, y.alpha == 0 ? float(y.rank) : y.alpha);
  ASSERT_EQ(x.layers.size(), y.layers.size());
  for (size_t l = 0; l < x.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      ASSERT_EQ(bool(x.layers[l][t]), bool(y.layers[l][t])) << l << " " << t;
      if (!x.layers[l][t]) continue;
      EXPECT_EQ(x.layers[l][t]->a, y.layers[l][t]->a);
      EXPECT_EQ(x.layers[l][t]->b, y.layers[l][t]->b);
    }
}

TEST(LoraTargets, ParsesTheFlagList) {
  auto t = parse_lora_targets("q,k,v,o,gate,up,down");
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[4], LoraTarget::kGate);
  EXPECT_STREQ(lora_target_gguf_name(LoraTarget::kO), "attn_output");
  EXPECT_STREQ(lora_target_flag_name(LoraTarget::kDown), "down");
  EXPECT_NE(error_of([] { parse_lora_targets("q,lm_head"); }).find("unknown target \"lm_head\""), std::string::npos);
  EXPECT_NE(error_of([] { parse_lora_targets("q,q"); }).find("twice"), std::string::npos);
  EXPECT_NE(error_of([] { parse_lora_targets(""); }).find("unknown target"), std::string::npos);
}

TEST_F(LoraFiles, GgufRoundTripIsExactAndDeterministic) {
  auto model = write(TinySpec{});
  const LoraAdapter a = test::random_lora(model->config(), 4, 8.0f, kAll, 1);
  const std::string p1 = temp("rt1.gguf"), p2 = temp("rt2.gguf");
  write_lora_adapter_gguf(a, model->config(), p1);
  write_lora_adapter_gguf(a, model->config(), p2);
  EXPECT_EQ(slurp(p1), slurp(p2));
  const LoraAdapter b = read_lora_adapter(p1, *model);
  expect_same(a, b);
  EXPECT_EQ(b.alpha, 8.0f);
  EXPECT_EQ(b.name, "test adapter");
  // GGUF dimension order: lora_a [in, r], lora_b [r, out].
  auto g = GgufReader::open(p1);
  const auto ia = g->find("blk.0.attn_q.weight.lora_a"), ib = g->find("blk.0.attn_q.weight.lora_b");
  ASSERT_GE(ia, 0);
  ASSERT_GE(ib, 0);
  EXPECT_EQ(g->ggml_ne(ia), (std::vector<uint64_t>{32, 4}));
  EXPECT_EQ(g->ggml_ne(ib), (std::vector<uint64_t>{4, 32}));
  EXPECT_EQ(g->find_kv("general.type")->s, "adapter");
  EXPECT_EQ(g->find_kv("adapter.type")->s, "lora");
  fs::remove(p1);
  fs::remove(p2);
}

TEST_F(LoraFiles, PeftRoundTripPermutesRotaryRows) {
  auto model = write(TinySpec{});
  const LlamaConfig& c = model->config();
  const LoraAdapter a = test::random_lora(c, 2, 0.0f, {LoraTarget::kQ, LoraTarget::kK, LoraTarget::kDown}, 5);
  const std::string dir = temp("peft");
  write_lora_adapter_peft(a, c, dir);
  const LoraAdapter b = read_lora_adapter(dir, *model);
  expect_same(a, b);
  EXPECT_EQ(b.alpha, 2.0f);  // alpha 0 (scale 1) is lora_alpha = r in PEFT
  // q_proj's lora_B rows are in HF order in the file: file row r is our row gguf_row_for_hf_row(r).
  auto st = open_safetensors(dir + "/adapter_model.safetensors");
  const auto i = st->find("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight");
  ASSERT_GE(i, 0);
  const TensorBytes bytes = st->read(static_cast<size_t>(i));
  const float* f = reinterpret_cast<const float*>(bytes.data());
  const LoraPair& q = *a.layers[1][0];
  for (uint64_t r = 0; r < q.out; ++r)
    for (uint32_t k = 0; k < q.rank; ++k) EXPECT_EQ(f[r * q.rank + k], q.b[gguf_row_for_hf_row(r, c.head_dim) * q.rank + k]);
  // The permutation is not the identity here (so the test above can fail).
  EXPECT_NE(gguf_row_for_hf_row(1, c.head_dim), 1u);
  const std::string config = slurp(dir + "/adapter_config.json");
  EXPECT_NE(config.find("\"down_proj\""), std::string::npos);
  EXPECT_NE(config.find("\"r\": 2"), std::string::npos);
  fs::remove_all(dir);
}

// A qwen2 base (NEOX rotation, Q/K rows in Hugging Face order in its GGUF): the GGUF adapter
// says "qwen2" (llama.cpp refuses an adapter whose architecture is not the base's, and so do we),
// and PEFT files keep B's rows as they are.
TEST_F(LoraFiles, Qwen2AdaptersNameTheirArchitectureAndKeepRowOrder) {
  auto model = write(TinySpec{});
  LlamaConfig qwen = model->config();
  qwen.architecture = "Qwen2ForCausalLM";
  const LoraAdapter a = test::random_lora(qwen, 2, 4.0f, {LoraTarget::kQ, LoraTarget::kK}, 9);
  const std::string path = temp("qwen2.gguf"), dir = temp("qwen2-peft");
  write_lora_adapter_gguf(a, qwen, path);
  EXPECT_EQ(GgufReader::open(path)->find_kv("general.architecture")->s, "qwen2");
  expect_same(a, read_lora_adapter(path, qwen));
  const std::string e = error_of([&] { read_lora_adapter(path, *model); });
  EXPECT_NE(e.find("architecture \"qwen2\", not the base's \"llama\""), std::string::npos) << e;
  write_lora_adapter_peft(a, qwen, dir);
  expect_same(a, read_lora_adapter(dir, qwen));
  auto st = open_safetensors(dir + "/adapter_model.safetensors");
  const auto i = st->find("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight");
  ASSERT_GE(i, 0);
  const TensorBytes bytes = st->read(static_cast<size_t>(i));
  const LoraPair& k = *a.layers[0][1];
  ASSERT_EQ(bytes.size(), k.b.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(bytes.data(), k.b.data(), bytes.size()), 0);
  fs::remove(path);
  fs::remove_all(dir);
}

TEST_F(LoraFiles, RefusesAnAdapterForAnotherBase) {
  auto model = write(TinySpec{});
  TinySpec wider;
  wider.embd = 48;
  wider.heads = 4;
  const std::string wide_path = temp("wide.gguf");
  {
    // The same adapter shapes from a model 48 wide.
    auto wide = write(wider);
    write_lora_adapter_gguf(test::random_lora(wide->config(), 2, 4.0f, {LoraTarget::kV}, 3), wide->config(), wide_path);
  }
  model = write(TinySpec{});
  const std::string e = error_of([&] { read_lora_adapter(wide_path, *model); });
  EXPECT_NE(e.find("blk.0.attn_v.weight.lora_"), std::string::npos) << e;
  EXPECT_NE(e.find("another base"), std::string::npos) << e;
  // A model file is not an adapter.
  const std::string e2 = error_of([&] { read_lora_adapter(path_, *model); });
  EXPECT_NE(e2.find("general.type"), std::string::npos) << e2;
  fs::remove(wide_path);
}

TEST_F(LoraFiles, RefusesMixedRanksAndTruncatedFiles) {
  auto model = write(TinySpec{});
  const LlamaConfig& c = model->config();
  LoraAdapter a = test::random_lora(c, 2, 4.0f, {LoraTarget::kV}, 3);
  LoraAdapter b = test::random_lora(c, 3, 4.0f, {LoraTarget::kUp}, 9);
  a.layers[1][static_cast<size_t>(LoraTarget::kUp)] = b.layers[1][static_cast<size_t>(LoraTarget::kUp)];
  const std::string path = temp("mixed.gguf");
  const std::string e = error_of([&] { write_lora_adapter_gguf(a, c, path); });
  EXPECT_NE(e.find("mixed ranks"), std::string::npos) << e;

  const LoraAdapter good = test::random_lora(c, 2, 4.0f, kAll, 3);
  write_lora_adapter_gguf(good, c, path);
  const std::string bytes = slurp(path);
  for (size_t cut : {size_t{3}, size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
    spit(path, bytes.substr(0, cut));
    EXPECT_FALSE(error_of([&] { read_lora_adapter(path, *model); }).empty()) << cut;
  }
  const std::string dir = temp("peft_cut");
  write_lora_adapter_peft(good, c, dir);
  const std::string st = slurp(dir + "/adapter_model.safetensors");
  spit(dir + "/adapter_model.safetensors", st.substr(0, st.size() - 5));
  EXPECT_FALSE(error_of([&] { read_lora_adapter(dir, *model); }).empty());
  fs::remove_all(dir);
  fs::remove(path);
}

TEST_F(LoraFiles, PeftConfigVariants) {
  auto model = write(TinySpec{});
  const LlamaConfig& c = model->config();
  const LoraAdapter a = test::random_lora(c, 4, 8.0f, {LoraTarget::kO}, 3);
  const std::string dir = temp("variants");
  write_lora_adapter_peft(a, c, dir);
  const std::string original = slurp(dir + "/adapter_config.json");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = original;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    spit(dir + "/adapter_config.json", s);
  };
  with("\"use_rslora\": false", "\"use_rslora\": true");
  const LoraAdapter rs = read_lora_adapter(dir, *model);
  EXPECT_NEAR(rs.base_scale(), 8.0f / 2.0f, 1e-6f);  // alpha / sqrt(4)
  with("\"use_dora\": false", "\"use_dora\": true");
  EXPECT_NE(error_of([&] { read_lora_adapter(dir, *model); }).find("DoRA"), std::string::npos);
  with("\"o_proj\"", "\"lm_head\"");
  EXPECT_NE(error_of([&] { read_lora_adapter(dir, *model); }).find("unknown target module \"lm_head\""), std::string::npos);
  with("\"r\": 4", "\"r\": 3");
  EXPECT_NE(error_of([&] { read_lora_adapter(dir, *model); }).find("mixed ranks"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lmforge
