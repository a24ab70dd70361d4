// The one table of llama's tensors: one row per logical tensor with every spelling of its
// name (GGUF, Hugging Face, Meta, ONNX export), its shape rule, its rotary role, how Meta's
// model-parallel shards split it, and its place in the canonical file orders.
//
// Every piece of code that names a llama tensor asks this table (through these functions or
// the spelling helpers in llama_names.h), so adding a tensor or a spelling is one row. The
// idea follows gguf-py's tensor_mapping.py (one entry per tensor listing all its names); the
// rows are llama's own. A second architecture gets its own table in arch/<name>/.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "arch/llama/llama_config.h"

namespace lmforge {

// The logical tensors of a llama; the values index llama_tensor_table() and give the GGUF
// (llama.cpp) order: the embedding, each layer's parts, then the output norm and head.
enum class LlamaTensor : uint8_t {
  kTokenEmbd,
  kAttnNorm,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnOutput,
  kFfnNorm,
  kFfnGate,
  kFfnDown,
  kFfnUp,
  kOutputNorm,
  kOutput,
};

// Ways a file spells tensor names:
//   kGguf         "blk.0.attn_q.weight" (llama.cpp)
//   kHuggingFace  "model.layers.0.self_attn.q_proj.weight" (transformers)
//   kMeta         "layers.0.attention.wq.weight" (Meta's model.py; legacy GGML files too; no biases)
//   kOnnxMatMul   "/model/layers.0/self_attn/q_proj/MatMul" (the MatMul node torch.onnx.export
//                 makes for a Linear; its weight is stored transposed under a generated name)
enum class LlamaSpelling : uint8_t { kGguf, kHuggingFace, kMeta, kOnnxMatMul };

enum class RotaryRole : uint8_t { kNone, kQuery, kKey };

// The row-major shape of a weight as a rule over the config; a bias is the first dimension.
enum class LlamaShape : uint8_t {
  kVocabByEmbd,  // [vocab, hidden]
  kEmbd,         // [hidden] (norms; no bias)
  kQByEmbd,      // [heads * head_dim, hidden]
  kKvByEmbd,     // [kv_heads * head_dim, hidden]
  kEmbdByQ,      // [hidden, heads * head_dim]
  kFfByEmbd,     // [intermediate, hidden]
  kEmbdByFf,     // [hidden, intermediate]
};

// How fairscale's layers in Meta's model.py cut a tensor across model-parallel ranks:
// ColumnParallelLinear by output rows (dim 0), RowParallelLinear by input columns (dim 1),
// norms replicated; the embedding is cut by width (LLaMA 1/2) or vocabulary (Llama 3), which
// only the pieces' shape tells.
enum class MetaSplit : uint8_t { kReplicated, kRows, kCols, kByShape };

struct LlamaTensorRow {
  LlamaTensor id;
  bool per_layer;          // names carry a layer number
  // Spellings without the layer prefix ("blk.N.", "model.layers.N.", "layers.N.") and without
  // ".weight"/".bias"; the ONNX one is the Hugging Face module path with '/' for '.'.
  std::string_view gguf, hf, meta, onnx;
  LlamaShape shape;
  RotaryRole rotary;
  MetaSplit meta_split;
  uint8_t meta_order;      // place in Meta's state dict (kept by legacy GGML files): globals
                           // 0..2, then per layer 0..8
};

std::span<const LlamaTensorRow> llama_tensor_table();
const LlamaTensorRow& llama_tensor_row(LlamaTensor id);

// A parsed tensor name: which row, which layer (per-layer rows), weight or bias.
struct LlamaTensorName {
  LlamaTensor id;
  uint32_t layer = 0;
  bool bias = false;
};

// Reads `name` in `spelling`; nullopt when it names no llama tensor (or a bias the spelling
// cannot have). Layer numbers are plain decimals (no leading zeros), at most 6 digits.
std::optional<LlamaTensorName> parse_llama_tensor_name(std::string_view name, LlamaSpelling spelling);
// Writes `t` in `spelling`; nullopt when the spelling has no such name (a Meta bias).
std::optional<std::string> spell_llama_tensor(const LlamaTensorName& t, LlamaSpelling spelling);
// The GGUF name of a weight: gguf_weight_name(LlamaTensor::kAttnQ, 3) == "blk.3.attn_q.weight".
std::string gguf_weight_name(LlamaTensor id, uint32_t layer = 0);

// The row-major shape `config` implies; nullopt for a layer the config does not have or a bias
// of a norm.
std::optional<std::vector<uint64_t>> llama_tensor_shape(const LlamaTensorName& t, const LlamaConfig& config);

// Canonical GGUF file order: embedding, layers in order (each in table order, weight before
// bias), output norm, head. A fixed order makes conversions reproducible whatever the shard
// layout of the source.
struct LlamaFileOrder {
  int group;        // 0 embedding, 1 layers, 2 output norm, 3 head
  uint64_t layer;
  int part;         // 2 * row within the layer + bias
  auto operator<=>(const LlamaFileOrder&) const = default;
};
LlamaFileOrder llama_gguf_order(const LlamaTensorName& t);

// Tensors files carry that hold no weights and are dropped on conversion: rotary caches and
// attention masks (Hugging Face), "rope.freqs" (Meta), "rope_freqs.weight" (GGUF).
bool is_ignored_llama_tensor(std::string_view name, LlamaSpelling spelling);

}  // namespace lmforge
