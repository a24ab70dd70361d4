// GGUF LoRA adapters in llama.cpp's layout (what its convert_lora_to_gguf.py writes and
// llama_adapter_lora_init reads): general.type "adapter", general.architecture the base's
// ("llama", or "qwen2": llama.cpp refuses a mismatch),
// adapter.type "lora", adapter.lora.alpha (f32; absent means 0), and per adapted weight
// blk.N.<target>.weight.lora_a with GGUF dimensions [in, r] and .lora_b with [r, out].
// B's rows of attn_q/attn_k are in the base GGUF's rotary order, so nothing is permuted here.
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "engine/lora_adapter.h"
#include "engine/lora_io.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/gguf/gguf_writer.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

// "blk.12.attn_q.weight.lora_a" -> layer 12, target kQ, is_b false; nullopt when the name does
// not have that form or names no known target.
struct LoraTensorName {
  uint32_t layer;
  LoraTarget target;
  bool is_b;
};

std::optional<LoraTensorName> parse_tensor_name(const std::string& name) {
  const std::string_view n = name;
  if (!n.starts_with("blk.")) return std::nullopt;
  const size_t dot = n.find('.', 4);
  if (dot == std::string_view::npos || dot == 4 || dot - 4 > 9) return std::nullopt;
  uint32_t layer = 0;
  const auto [end, ec] = std::from_chars(n.data() + 4, n.data() + dot, layer);
  if (ec != std::errc{} || end != n.data() + dot) return std::nullopt;
  std::string_view rest = n.substr(dot + 1);
  bool is_b;
  if (rest.ends_with(".weight.lora_a")) {
    is_b = false;
  } else if (rest.ends_with(".weight.lora_b")) {
    is_b = true;
  } else {
    return std::nullopt;
  }
  rest.remove_suffix(std::string_view(".weight.lora_a").size());
  const auto target = lora_target_from_gguf(rest);
  if (!target) return std::nullopt;
  return LoraTensorName{layer, *target, is_b};
}

std::string kv_string(const GgufReader& g, const std::string& key) {
  const GgufValue* v = g.find_kv(key);
  return v && v->type == GgufType::STRING ? v->s : std::string();
}

// Tensor i as row-major floats, decoded from its type; its shape must be 2-D.
std::vector<float> decode_tensor(const GgufReader& g, size_t i, const std::string& path) {
  const TensorInfo& info = g.tensors()[i];
  const DType t = info.dtype;
  if (t != DType::F32 && t != DType::F16 && t != DType::BF16 && t != DType::Q8_0)
    fail(path, "tensor " + info.name + " has type " + std::string(dtype_name(t)) +
                   "; LoRA tensors are read as F32, F16, BF16 or Q8_0");
  if (info.shape.size() != 2 || info.shape[0] == 0 || info.shape[1] == 0)
    fail(path, "tensor " + info.name + " is not a 2-D matrix");
  const uint64_t rows = info.shape[0], cols = info.shape[1];
  // The reader bounds each tensor's bytes by the file, so rows * cols is bounded by it too.
  const uint32_t block = type_traits(t)->block_size;
  if (cols % block != 0) fail(path, "tensor " + info.name + " has rows that are not whole blocks");
  const TensorBytes bytes = g.read(i);
  const auto row_bytes = dtype_nbytes(t, cols);
  if (!row_bytes || bytes.size() != *row_bytes * rows) fail(path, "tensor " + info.name + " has the wrong size");
  std::vector<float> out(rows * cols);
  for (uint64_t r = 0; r < rows; ++r) decode_row(t, bytes.data() + r * *row_bytes, &out[r * cols], cols);
  return out;
}

}  // namespace

LoraAdapter read_lora_adapter_gguf(const GgufReader& g, const LlamaConfig& base, const std::string& path) {
  const std::string type = kv_string(g, "general.type");
  if (type != "adapter")
    fail(path, "not a LoRA adapter: general.type is \"" + type + "\", not \"adapter\"");
  // llama.cpp refuses an adapter whose architecture is not the base's; so does this.
  const std::string arch = kv_string(g, "general.architecture");
  if (arch != gguf_architecture(base))
    fail(path, "the adapter is for architecture \"" + arch + "\", not the base's \"" + gguf_architecture(base) + "\"");
  const std::string adapter_type = kv_string(g, "adapter.type");
  if (adapter_type != "lora") fail(path, "adapter.type is \"" + adapter_type + "\", not \"lora\"");

  LoraAdapter a;
  a.name = kv_string(g, "general.name");
  if (const GgufValue* v = g.find_kv("adapter.lora.alpha")) {
    const auto f = v->as_float();
    if (!f) fail(path, "adapter.lora.alpha is not a number");
    a.alpha = static_cast<float>(*f);
  }
  if (g.find_kv("adapter.alora.invocation_tokens"))
    fail(path, "activated LoRA (aLoRA) adapters are not supported");
  a.layers.resize(base.num_hidden_layers);
  for (size_t i = 0; i < g.tensors().size(); ++i) {
    const std::string& name = g.tensors()[i].name;
    const auto parsed = parse_tensor_name(name);
    if (!parsed)
      fail(path, "tensor " + name + " is not a LoRA tensor of a known target (blk.N.{attn_q,attn_k,attn_v,attn_output,"
                 "ffn_gate,ffn_up,ffn_down}.weight.lora_a/.lora_b)");
    if (parsed->layer >= base.num_hidden_layers)
      fail(path, "tensor " + name + " is for layer " + std::to_string(parsed->layer) + " but the base model has " +
                     std::to_string(base.num_hidden_layers) + " layers: the adapter was made for another base");
    auto& slot = a.layers[parsed->layer][static_cast<size_t>(parsed->target)];
    if (!slot) slot.emplace();
    LoraPair& p = *slot;
    const auto& shape = g.tensors()[i].shape;
    std::vector<float>& dst = parsed->is_b ? p.b : p.a;
    if (!dst.empty()) fail(path, "tensor " + name + " appears twice");
    // Check the one dimension the base fixes before decoding (no allocation from a wrong shape).
    const uint32_t want = parsed->is_b ? lora_target_out(parsed->target, base) : lora_target_in(parsed->target, base);
    if (shape.size() != 2 || (parsed->is_b ? shape[0] : shape[1]) != want)
      fail(path, "tensor " + name + " has shape " + shape_text(shape) + " but the base's weight needs " +
                     (parsed->is_b ? "[" + std::to_string(want) + ", r]" : "[r, " + std::to_string(want) + "]") +
                     ": the adapter was made for another base");
    const uint64_t rank = parsed->is_b ? shape[1] : shape[0];
    if (rank == 0 || rank > want) fail(path, "tensor " + name + " has rank " + std::to_string(rank));
    if (p.rank != 0 && p.rank != rank)
      fail(path, "tensor " + name + ": lora_a and lora_b disagree on the rank (" + std::to_string(p.rank) + " and " +
                     std::to_string(rank) + ")");
    p.rank = static_cast<uint32_t>(rank);
    p.in = lora_target_in(parsed->target, base);
    p.out = lora_target_out(parsed->target, base);
    dst = decode_tensor(g, i, path);
    if (a.rank == 0) a.rank = p.rank;
  }
  for (size_t l = 0; l < a.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      const auto& p = a.layers[l][t];
      if (p && (p->a.empty() || p->b.empty()))
        fail(path, "blk." + std::to_string(l) + "." + lora_target_gguf_name(static_cast<LoraTarget>(t)) +
                       ".weight has only one of lora_a and lora_b");
    }
  check_lora_adapter(a, base, path);
  return a;
}

void write_lora_adapter_gguf(const LoraAdapter& adapter, const LlamaConfig& base, const std::string& path) {
  check_lora_adapter(adapter, base, path);
  GgufWriter w;
  w.set("general.architecture", GgufValue::str(gguf_architecture(base)));  // llama.cpp checks it against the base
  w.set("general.type", GgufValue::str("adapter"));
  if (!adapter.name.empty()) w.set("general.name", GgufValue::str(adapter.name));
  w.set("adapter.type", GgufValue::str("lora"));
  w.set("adapter.lora.alpha", GgufValue::f32(adapter.alpha));
  for (size_t l = 0; l < adapter.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      const auto& p = adapter.layers[l][t];
      if (!p) continue;
      const std::string name =
          "blk." + std::to_string(l) + "." + lora_target_gguf_name(static_cast<LoraTarget>(t)) + ".weight";
      const LoraPair* pair = &*p;
      w.add_tensor(name + ".lora_a", DType::F32, {pair->rank, pair->in}, [pair] { return tensor_bytes_of(pair->a); });
      w.add_tensor(name + ".lora_b", DType::F32, {pair->out, pair->rank}, [pair] { return tensor_bytes_of(pair->b); });
    }
  w.write(path, /*overwrite=*/true);
}

}  // namespace lmforge
