// read_lora_adapter's dispatch (a folder is PEFT, a file GGUF), the checks every adapter
// passes against its base, and the per-row merge.
#include "engine/lora_adapter.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "core/mapped_file.h"
#include "engine/llama_model.h"
#include "engine/lora_io.h"
#include "formats/gguf/gguf_reader.h"

namespace lmforge {

uint32_t lora_target_out(LoraTarget t, const LlamaConfig& c) {
  switch (t) {
    case LoraTarget::kQ: return c.num_attention_heads * c.head_dim;
    case LoraTarget::kK:
    case LoraTarget::kV: return c.num_key_value_heads * c.head_dim;
    case LoraTarget::kO:
    case LoraTarget::kDown: return c.hidden_size;
    case LoraTarget::kGate:
    case LoraTarget::kUp: return c.intermediate_size;
  }
  return 0;
}

uint32_t lora_target_in(LoraTarget t, const LlamaConfig& c) {
  switch (t) {
    case LoraTarget::kO: return c.num_attention_heads * c.head_dim;
    case LoraTarget::kDown: return c.intermediate_size;
    default: return c.hidden_size;
  }
}

bool lora_target_rotary(LoraTarget t, const LlamaConfig& base) {
  return (t == LoraTarget::kQ || t == LoraTarget::kK) && !rope_neox(base);
}

void check_lora_adapter(const LoraAdapter& a, const LlamaConfig& c, const std::string& path) {
  if (a.layers.size() > c.num_hidden_layers)
    fail(path, "the adapter has " + std::to_string(a.layers.size()) + " layers but the base model has " +
                   std::to_string(c.num_hidden_layers) + ": it was made for another base");
  if (!std::isfinite(a.alpha)) fail(path, "adapter.lora.alpha is not a finite number");
  bool any = false;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      const auto& p = a.layers[l][t];
      if (!p) continue;
      any = true;
      const auto target = static_cast<LoraTarget>(t);
      const std::string name = "blk." + std::to_string(l) + "." + lora_target_gguf_name(target) + ".weight";
      const uint32_t out = lora_target_out(target, c), in = lora_target_in(target, c);
      if (p->in != in)
        fail(path, "tensor " + name + ".lora_a has " + std::to_string(p->in) + " columns but the base's " + name +
                       " has " + std::to_string(in) + ": the adapter was made for another base");
      if (p->out != out)
        fail(path, "tensor " + name + ".lora_b has " + std::to_string(p->out) + " rows but the base's " + name +
                       " has " + std::to_string(out) + ": the adapter was made for another base");
      if (p->rank == 0) fail(path, "tensor " + name + ".lora_a has rank 0");
      if (p->rank != a.rank)
        fail(path, "tensor " + name + ".lora_a has rank " + std::to_string(p->rank) + " but other pairs have rank " +
                       std::to_string(a.rank) + " (adapters with mixed ranks are not supported)");
      if (p->a.size() != uint64_t{p->rank} * p->in || p->b.size() != uint64_t{p->out} * p->rank)
        fail(path, "tensor " + name + ": sizes of lora_a/lora_b do not match their shapes");
      for (float v : p->a)
        if (!std::isfinite(v)) fail(path, "tensor " + name + ".lora_a has a NaN or infinite value");
      for (float v : p->b)
        if (!std::isfinite(v)) fail(path, "tensor " + name + ".lora_b has a NaN or infinite value");
    }
  }
  if (!any) fail(path, "the adapter has no LoRA tensors");
}

LoraAdapter read_lora_adapter(const std::string& path, const LlamaConfig& base) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = path;
  // A file inside a PEFT folder names the folder.
  if (fs::is_regular_file(dir, ec) &&
      (dir.filename() == "adapter_config.json" || dir.filename() == "adapter_model.safetensors"))
    dir = dir.parent_path();
  if (fs::is_directory(dir, ec)) {
    const std::string config_path = (dir / "adapter_config.json").string();
    const std::string weights_path = (dir / "adapter_model.safetensors").string();
    if (!fs::is_regular_file(config_path, ec))
      fail(path, "not a PEFT adapter folder: adapter_config.json is missing");
    if (!fs::is_regular_file(weights_path, ec))
      fail(path, "not a PEFT adapter folder: adapter_model.safetensors is missing (adapter_model.bin is not read)");
    const uint64_t config_bytes = fs::file_size(config_path, ec);
    if (ec || config_bytes > (1u << 20)) fail(config_path, "adapter_config.json is unreadable or larger than 1 MiB");
    std::ifstream in(config_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) fail(config_path, "cannot read the file");
    auto weights = MappedFile::open(weights_path);
    return read_lora_adapter_peft(text.str(), weights->bytes(), base, dir.string());
  }
  auto gguf = GgufReader::open(path);
  return read_lora_adapter_gguf(*gguf, base, path);
}

LoraAdapter read_lora_adapter(const std::string& path, const LlamaModel& base) {
  return read_lora_adapter(path, base.config());
}

void lora_merge_row(const LoraPair& p, float scale, uint64_t r, float* w_row) {
  const float* b = &p.b[r * p.rank];
  for (uint32_t c = 0; c < p.in; ++c) {
    double s = 0;
    for (uint32_t k = 0; k < p.rank; ++k) s += double{b[k]} * p.a[size_t{k} * p.in + c];
    w_row[c] = static_cast<float>(w_row[c] + scale * s);
  }
}

}  // namespace lmforge
