// GPTQ settings (every spelling, the defaults, the refusals) and one quantized linear read from
// its tensors: v1 and v2 zero points (a stored all-ones v1 field is 2^bits), g_idx, and one clear
// error for each inconsistency.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/half.h"
#include "formats/gptq_config.h"
#include "formats/gptq_linear.h"
#include "quant/gptq_packing.h"

namespace lmforge {
namespace {

using json = nlohmann::json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GptqConfigTest, SpellingsAndDefaults) {
  GptqConfig c = gptq_config_from_json(json{{"bits", 4}, {"group_size", 128}}, "q.json");
  EXPECT_EQ(c.bits, 4);
  EXPECT_EQ(c.group_size, 128);
  EXPECT_TRUE(c.sym);  // AutoGPTQ's default
  EXPECT_FALSE(c.desc_act);
  EXPECT_FALSE(c.v2);
  c = gptq_config_from_json(json{{"w_bit", 3}, {"q_group_size", -1}, {"sym", false}, {"desc_act", true},
                                 {"checkpoint_format", "gptq_v2"}, {"quant_method", "gptq"}},
                            "q.json");
  EXPECT_EQ(c.bits, 3);
  EXPECT_EQ(c.group_size, -1);
  EXPECT_EQ(c.group_size_for(96), 96u);
  EXPECT_FALSE(c.sym);
  EXPECT_TRUE(c.desc_act);
  EXPECT_TRUE(c.v2);
  EXPECT_TRUE(gptq_config_from_json(json{{"bits", 8}, {"format", "gptq_v2"}}, "q.json").v2);
}

TEST(GptqConfigTest, Refusals) {
  const auto err = [](const json& j) { return error_of([&] { gptq_config_from_json(j, "q.json"); }); };
  EXPECT_NE(err(json{{"group_size", 128}}).find("no \"bits\""), std::string::npos);
  EXPECT_NE(err(json{{"bits", 5}}).find("2, 3, 4 and 8"), std::string::npos);
  EXPECT_NE(err(json{{"bits", "4"}}).find("2, 3, 4 and 8"), std::string::npos);
  EXPECT_NE(err(json{{"bits", 4}, {"group_size", 0}}).find("group size"), std::string::npos);
  EXPECT_NE(err(json{{"bits", 4}, {"quant_method", "awq"}}).find("GPTQ checkpoints only"), std::string::npos);
  EXPECT_NE(err(json{{"bits", 4}, {"checkpoint_format", "marlin"}}).find("marlin"), std::string::npos);
  EXPECT_NE(err(json{{"bits", 4}, {"is_marlin_format", true}}).find("Marlin"), std::string::npos);
  EXPECT_NE(err(json{{"bits", 4}, {"sym", "yes"}}).find("\"sym\""), std::string::npos);
  EXPECT_NE(err(json::array()).find("not a JSON object"), std::string::npos);
}

// Tensors held in memory.
class MemorySource final : public TensorSource {
 public:
  void add(const std::string& name, DType t, std::vector<uint64_t> shape, std::vector<uint8_t> bytes) {
    TensorInfo i;
    i.name = name;
    i.dtype = t;
    i.shape = std::move(shape);
    i.nbytes = bytes.size();
    infos_.push_back(i);
    data_.push_back(std::move(bytes));
  }
  std::string format_description() const override { return "memory"; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  TensorBytes read(size_t i) const override { return TensorBytes(data_.at(i)); }
  std::vector<TensorInfo> infos_;
  std::vector<std::vector<uint8_t>> data_;
};

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

struct Linear {
  uint64_t out = 64, in = 96, gs = 32;
  int bits = 4;
  std::vector<uint8_t> codes;       // [in][out], checkpoint orientation
  std::vector<uint8_t> zero_field;  // [G][out], as stored
  std::vector<uint16_t> scales;     // [G][out] fp16
  std::vector<int32_t> g_idx;       // [in]
  uint64_t groups() const { return (in + gs - 1) / gs; }

  explicit Linear(int b, uint32_t seed = 1) : bits(b) {
    std::mt19937 rng(seed);
    codes.resize(in * out);
    for (auto& c : codes) c = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
    zero_field.resize(groups() * out);
    for (auto& z : zero_field) z = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
    scales.resize(groups() * out);
    for (auto& s : scales) s = fp32_to_fp16(0.001f * static_cast<float>(1 + rng() % 50));
    g_idx.resize(in);
    for (uint64_t k = 0; k < in; ++k) g_idx[k] = static_cast<int32_t>((k * 7 % in) / gs);  // a permutation's groups
  }

  MemorySource source() const {
    MemorySource s;
    std::vector<uint32_t> qw(gptq_packed_words(in, bits) * out), qz(groups() * gptq_packed_words(out, bits));
    gptq_pack_columns(codes.data(), in, out, bits, qw.data());
    gptq_pack_rows(zero_field.data(), groups(), out, bits, qz.data());
    s.add("l.qweight", DType::I32, {gptq_packed_words(in, bits), out}, bytes_of(qw));
    s.add("l.qzeros", DType::I32, {groups(), gptq_packed_words(out, bits)}, bytes_of(qz));
    s.add("l.scales", DType::F16, {groups(), out}, bytes_of(scales));
    s.add("l.g_idx", DType::I32, {in}, bytes_of(g_idx));
    return s;
  }
};

TEST(GptqLinearTest, ReadsCodesZerosScalesAndGroups) {
  for (int bits : {2, 3, 4, 8}) {
    for (bool v2 : {false, true}) {
      SCOPED_TRACE(std::to_string(bits) + "-bit" + (v2 ? " v2" : " v1"));
      Linear l(bits, static_cast<uint32_t>(bits));
      GptqConfig c;
      c.bits = bits;
      c.group_size = 32;
      c.v2 = v2;
      const GptqMatrix m = read_gptq_linear(l.source(), "l", l.out, l.in, c, "dir");
      ASSERT_EQ(m.groups, l.groups());
      for (uint64_t k = 0; k < l.in; ++k) {
        ASSERT_EQ(m.g_idx[k], static_cast<uint32_t>(l.g_idx[k]));
        for (uint64_t n = 0; n < l.out; ++n) ASSERT_EQ(m.code(n, k), l.codes[k * l.out + n]);
      }
      for (uint32_t g = 0; g < m.groups; ++g) {
        for (uint64_t n = 0; n < l.out; ++n) {
          const int field = l.zero_field[g * l.out + n];
          // v1: stored + 1, so an all-ones field (a zero point of 0 written as -1) is 2^bits.
          ASSERT_EQ(m.zero(g, n), v2 ? field : field + 1);
          ASSERT_EQ(m.scale(g, n), fp16_to_fp32(l.scales[g * l.out + n]));
        }
      }
      std::vector<float> row(l.in);
      m.dequantize_row(3, row.data());
      const uint32_t g = m.g_idx[5];
      EXPECT_EQ(row[5], m.scale(g, 3) * static_cast<float>(int{m.code(3, 5)} - m.zero(g, 3)));
    }
  }
}

TEST(GptqLinearTest, OneErrorPerInconsistency) {
  GptqConfig c;
  c.bits = 4;
  c.group_size = 32;
  const Linear l(4);
  const auto err = [&](const std::function<void(MemorySource&)>& damage, uint64_t out = 64, uint64_t in = 96) {
    MemorySource s = l.source();
    damage(s);
    return error_of([&] { read_gptq_linear(s, "l", out, in, c, "dir"); });
  };
  const auto has = [](const std::string& e, const std::string& w) { return e.find(w) != std::string::npos; };
  EXPECT_TRUE(has(err([](MemorySource&) {}, 64, 128), "has shape [12, 64], expected [16, 64]"));
  EXPECT_TRUE(has(err([](MemorySource& s) { s.infos_[0].dtype = DType::F32; }), "dtype F32"));
  EXPECT_TRUE(has(err([](MemorySource& s) { s.infos_[1].shape = {2, 8}; }), "'l.qzeros' has shape [2, 8]"));
  EXPECT_TRUE(has(err([](MemorySource& s) { s.data_[0].pop_back(); }), "does not match its shape"));
  EXPECT_TRUE(has(err([](MemorySource& s) { s.data_[2][1] = 0x7c; }), "NaN or infinite scale"));
  EXPECT_TRUE(has(err([](MemorySource& s) { s.data_[3][0] = 9; }), "group 9, but there are 3 groups"));
  EXPECT_TRUE(has(err([](MemorySource& s) { std::fill(s.data_[3].begin(), s.data_[3].end(), 0); }), "more than 32 inputs"));
  EXPECT_TRUE(has(err([](MemorySource& s) { s.infos_.erase(s.infos_.begin() + 1); s.data_.erase(s.data_.begin() + 1); }),
                  "'l.qzeros' is missing"));
  EXPECT_TRUE(has(err([](MemorySource& s) { s.add("l.bias", DType::F32, {64}, std::vector<uint8_t>(256, 0x3f)); }),
                  "not zero at output 0"));
  EXPECT_EQ(err([](MemorySource& s) { s.add("l.bias", DType::F32, {64}, std::vector<uint8_t>(256, 0)); }), "");
  c.bits = 3;  // 3-bit codes of 96 inputs need 9 words per column, not 12
  EXPECT_TRUE(has(err([](MemorySource&) {}), "expected [9, 64] for 3-bit"));
}

// A symmetric checkpoint whose zero points are in the other format's form is refused by name.
TEST(GptqLinearTest, MislabelledZeroPointFormat) {
  Linear l(4);
  GptqConfig c;
  c.bits = 4;
  c.group_size = 32;
  c.file = "quantize_config.json";
  std::fill(l.zero_field.begin(), l.zero_field.end(), uint8_t{8});  // v2's 8 under a v1 label
  std::string e = error_of([&] { read_gptq_linear(l.source(), "l", l.out, l.in, c, "dir"); });
  EXPECT_NE(e.find("gptq_v2 form of a symmetric 4-bit checkpoint"), std::string::npos) << e;
  c.v2 = true;
  c.checkpoint_format = "gptq_v2";
  EXPECT_EQ(error_of([&] { read_gptq_linear(l.source(), "l", l.out, l.in, c, "dir"); }), "");
  std::fill(l.zero_field.begin(), l.zero_field.end(), uint8_t{7});  // v1's 7 under a v2 label
  e = error_of([&] { read_gptq_linear(l.source(), "l", l.out, l.in, c, "dir"); });
  EXPECT_NE(e.find("v1 (gptq) form"), std::string::npos) << e;
  c.sym = false;  // asymmetric: any zero point may be anything
  EXPECT_EQ(error_of([&] { read_gptq_linear(l.source(), "l", l.out, l.in, c, "dir"); }), "");
}

TEST(GptqLinearTest, ModuleOfTensorNames) {
  EXPECT_EQ(gptq_tensor_module("model.layers.0.mlp.up_proj.qweight").value_or(""), "model.layers.0.mlp.up_proj");
  EXPECT_EQ(gptq_tensor_module("a.g_idx").value_or(""), "a");
  EXPECT_FALSE(gptq_tensor_module("a.weight").has_value());
  EXPECT_FALSE(gptq_tensor_module(".qweight").has_value());
}

}  // namespace
}  // namespace lmforge
