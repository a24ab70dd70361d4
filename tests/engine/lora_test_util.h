// Random LoRA adapters for the tiny models of tiny_llama.h, and the merged model (W + s·B A)
// written as a GGUF, for the LoRA reader, writer and engine tests.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "arch/llama/llama_config.h"
#include "engine/llama_model.h"
#include "engine/lora_adapter.h"
#include "engine/lora_io.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "kernels/kernel_test_util.h"  // random_floats
#include "quant/type_traits.h"

namespace lmforge::test {

// An adapter of rank `rank` on `targets` of every layer, random A and B (B zero if asked).
inline LoraAdapter random_lora(const LlamaConfig& c, uint32_t rank, float alpha, const std::vector<LoraTarget>& targets,
                               uint32_t seed, bool zero_b = false) {
  LoraAdapter a;
  a.alpha = alpha;
  a.rank = rank;
  a.name = "test adapter";
  a.layers.resize(c.num_hidden_layers);
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l)
    for (LoraTarget t : targets) {
      LoraPair p{.rank = rank, .in = lora_target_in(t, c), .out = lora_target_out(t, c)};
      p.a = random_floats(size_t{rank} * p.in, seed++, 0.3f);
      p.b = zero_b ? std::vector<float>(size_t{p.out} * rank, 0.0f) : random_floats(size_t{p.out} * rank, seed++, 0.3f);
      a.layers[l][static_cast<size_t>(t)] = std::move(p);
    }
  return a;
}

// Copies the GGUF at `base` to `out` with every adapted weight replaced by W + scale·B A (F32).
inline void write_merged(const std::string& base, const LoraAdapter& a, float scale, const std::string& out) {
  auto g = GgufReader::open(base);
  GgufWriter w;
  for (const auto& kv : g->kvs()) w.set(kv.key, kv.value);
  for (size_t i = 0; i < g->tensors().size(); ++i) {
    const TensorInfo info = g->tensors()[i];
    const LoraPair* pair = nullptr;
    for (size_t l = 0; l < a.layers.size(); ++l)
      for (size_t t = 0; t < kLoraTargetCount; ++t)
        if (a.layers[l][t] && info.name == "blk." + std::to_string(l) + "." +
                                                lora_target_gguf_name(static_cast<LoraTarget>(t)) + ".weight")
          pair = &*a.layers[l][t];
    if (!pair) {
      w.add_tensor(info.name, info.dtype, info.shape, [&g, i] { return g->read(i); });
      continue;
    }
    w.add_tensor(info.name, DType::F32, info.shape, [&g, i, info, pair, scale] {
      const uint64_t rows = info.shape[0], cols = info.shape[1];
      const TensorBytes src = g->read(i);
      const uint64_t row_bytes = *dtype_nbytes(info.dtype, cols);
      std::vector<uint8_t> bytes(rows * cols * sizeof(float));
      float* f = reinterpret_cast<float*>(bytes.data());
      for (uint64_t r = 0; r < rows; ++r) {
        decode_row(info.dtype, src.data() + r * row_bytes, f + r * cols, cols);
        lora_merge_row(*pair, scale, r, f + r * cols);
      }
      return TensorBytes(std::move(bytes));
    });
  }
  w.write(out, true);
}

}  // namespace lmforge::test
