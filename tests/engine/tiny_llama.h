// Tiny random llama models written as GGUF files for the engine tests: a TinySpec says the
// shape and types (and what to break), the TinyModel fixture writes it to a file named after
// the test and loads it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "quant/type_traits.h"
#include "core/dtype.h"
#include "core/error.h"
#include "engine/llama_model.h"
#include "formats/gguf/gguf_writer.h"
#include "kernels/kernel_test_util.h"  // random_floats

namespace lmforge::test {

struct TinySpec {
  uint32_t vocab = 40, embd = 32, heads = 4, kv_heads = 2, ff = 64, layers = 2;
  DType matrix_type = DType::F32;
  bool tied = false;
  bool qwen2 = false;  // general.architecture qwen2: NEOX rotation and q/k/v biases
  std::map<std::string, std::vector<uint64_t>> shape_override;
  std::map<std::string, DType> type_override;
  std::string drop;
};

class TinyModel : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::path(::testing::TempDir()) /
             ("llama_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" + std::to_string(getpid()) +
              ".gguf"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::unique_ptr<LlamaModel> write(const TinySpec& s) {
    GgufWriter w;
    const std::string arch = s.qwen2 ? "qwen2" : "llama";
    w.set("general.architecture", GgufValue::str(arch));
    w.set(arch + ".embedding_length", GgufValue::u32(s.embd));
    w.set(arch + ".feed_forward_length", GgufValue::u32(s.ff));
    w.set(arch + ".block_count", GgufValue::u32(s.layers));
    w.set(arch + ".attention.head_count", GgufValue::u32(s.heads));
    w.set(arch + ".attention.head_count_kv", GgufValue::u32(s.kv_heads));
    w.set(arch + ".context_length", GgufValue::u32(64));
    w.set(arch + ".attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
    w.set(arch + ".vocab_size", GgufValue::u32(s.vocab));
    const uint64_t hd = s.embd / s.heads;
    uint32_t seed = 10;
    auto add = [&](const std::string& name, std::vector<uint64_t> shape) {
      if (name == s.drop) return;
      if (auto o = s.shape_override.find(name); o != s.shape_override.end()) shape = o->second;
      DType t = shape.size() == 1 ? DType::F32 : s.matrix_type;
      if (auto o = s.type_override.find(name); o != s.type_override.end()) t = o->second;
      uint64_t n = 1;
      for (uint64_t d : shape) n *= d;
      const bool norm = shape.size() == 1 && name.find(".bias") == std::string::npos;
      auto v = random_floats(n, seed++, norm ? 0.1f : 0.3f);
      if (norm)
        for (float& x : v) x += 1.0f;
      const uint64_t row = shape.back();
      w.add_tensor(name, t, shape, [t, v, n, row] {
        std::vector<uint8_t> b(dtype_nbytes(t, n).value_or(n));
        if (can_encode(t))
          for (uint64_t r = 0; r < n / row; ++r) encode_row(t, &v[r * row], &b[*dtype_nbytes(t, r * row)], row);
        return TensorBytes(std::move(b));
      });
    };
    add("token_embd.weight", {s.vocab, s.embd});
    for (uint32_t l = 0; l < s.layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      add(p + "attn_norm.weight", {s.embd});
      add(p + "attn_q.weight", {s.heads * hd, s.embd});
      add(p + "attn_k.weight", {s.kv_heads * hd, s.embd});
      add(p + "attn_v.weight", {s.kv_heads * hd, s.embd});
      if (s.qwen2) {  // q/k/v biases (random, like the matrices' values)
        add(p + "attn_q.bias", {s.heads * hd});
        add(p + "attn_k.bias", {s.kv_heads * hd});
        add(p + "attn_v.bias", {s.kv_heads * hd});
      }
      add(p + "attn_output.weight", {s.embd, s.heads * hd});
      add(p + "ffn_norm.weight", {s.embd});
      add(p + "ffn_gate.weight", {s.ff, s.embd});
      add(p + "ffn_up.weight", {s.ff, s.embd});
      add(p + "ffn_down.weight", {s.embd, s.ff});
    }
    add("output_norm.weight", {s.embd});
    if (!s.tied) add("output.weight", {s.vocab, s.embd});
    w.write(path_, true);
    return LlamaModel::open(path_);
  }

  std::string load_error(const TinySpec& s) {
    try {
      write(s);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  std::string path_;
};

}  // namespace lmforge::test
