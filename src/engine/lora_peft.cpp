// PEFT LoRA folders: adapter_config.json (r, lora_alpha, target_modules, use_rslora, ...) and
// adapter_model.safetensors with tensors named
//   base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight   [r, in]
//   base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight   [out, r]
// in Hugging Face's row order: the rows of B for q_proj/k_proj are in rotate_half order and
// are permuted here into the base GGUF's adjacent-pair order (and back on writing), exactly as
// convert permutes the q_proj/k_proj weights themselves.
//
// Only plain LoRA is applied exactly: rsLoRA (scale alpha/sqrt(r)) is folded into alpha and
// said so on stderr; DoRA, per-module ranks or alphas, LoRA biases, fan_in_fan_out layouts and
// modules_to_save are refused, since their results would differ from what the file means.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "arch/llama/llama_names.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "engine/lora_adapter.h"
#include "engine/lora_io.h"
#include "formats/json_strict.h"
#include "formats/safetensors_reader.h"
#include "formats/safetensors_writer.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

constexpr std::string_view kPrefix = "base_model.model.model.layers.";

struct PeftTensorName {
  uint32_t layer;
  LoraTarget target;
  bool is_b;
};

// Parses PEFT's tensor names (an adapter name such as ".default" before ".weight" is allowed,
// as some exports keep it); nullopt for anything else.
std::optional<PeftTensorName> parse_peft_name(std::string_view n) {
  if (!n.starts_with(kPrefix)) return std::nullopt;
  n.remove_prefix(kPrefix.size());
  const size_t dot = n.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 9) return std::nullopt;
  uint32_t layer = 0;
  const auto [end, ec] = std::from_chars(n.data(), n.data() + dot, layer);
  if (ec != std::errc{} || end != n.data() + dot) return std::nullopt;
  n.remove_prefix(dot + 1);
  const size_t block_end = n.find('.');
  if (block_end == std::string_view::npos) return std::nullopt;
  const std::string_view block = n.substr(0, block_end);
  n.remove_prefix(block_end + 1);
  const size_t module_end = n.find('.');
  if (module_end == std::string_view::npos) return std::nullopt;
  const auto target = lora_target_from_peft(n.substr(0, module_end));
  if (!target || block != lora_target_hf_block(*target)) return std::nullopt;
  n.remove_prefix(module_end + 1);
  bool is_b;
  if (n.starts_with("lora_A.")) {
    is_b = false;
  } else if (n.starts_with("lora_B.")) {
    is_b = true;
  } else {
    return std::nullopt;
  }
  n.remove_prefix(7);
  if (n != "weight" && n != "default.weight") return std::nullopt;
  return PeftTensorName{layer, *target, is_b};
}

std::string peft_tensor_name(uint32_t layer, LoraTarget t, bool is_b) {
  return std::string(kPrefix) + std::to_string(layer) + "." + lora_target_hf_block(t) + "." +
         lora_target_peft_module(t) + (is_b ? ".lora_B.weight" : ".lora_A.weight");
}

bool truthy(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>());
}

bool non_empty(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && !it->is_null() && !(it->is_object() && it->empty()) && !(it->is_array() && it->empty());
}

struct PeftConfig {
  uint32_t r = 0;
  float alpha = 0.0f;  // folded for rsLoRA
};

PeftConfig parse_config(std::string_view text, const std::string& file) {
  const nlohmann::json j = parse_json_strict(text, file, 0);
  if (!j.is_object()) fail(file, "adapter_config.json is not a JSON object");
  if (j.contains("peft_type") && j["peft_type"] != "LORA")
    fail(file, "peft_type is " + j["peft_type"].dump() + "; only LORA adapters are supported");
  if (truthy(j, "use_dora")) fail(file, "DoRA adapters (use_dora) are not supported");
  if (non_empty(j, "rank_pattern") || non_empty(j, "alpha_pattern"))
    fail(file, "per-module ranks or alphas (rank_pattern, alpha_pattern) are not supported");
  if (truthy(j, "fan_in_fan_out")) fail(file, "fan_in_fan_out adapters are not supported");
  if (truthy(j, "lora_bias") || (j.contains("bias") && j["bias"] != "none"))
    fail(file, "LoRA adapters with biases are not supported");
  if (non_empty(j, "modules_to_save")) fail(file, "modules_to_save (fully trained modules) are not supported");
  if (non_empty(j, "layer_replication")) fail(file, "layer_replication is not supported");
  if (truthy(j, "use_qalora")) fail(file, "QA-LoRA adapters are not supported");
  PeftConfig pc;
  const auto r = j.find("r");
  if (r == j.end() || !r->is_number_integer() || r->get<int64_t>() <= 0 || r->get<int64_t>() > (1 << 20))
    fail(file, "\"r\" is missing or not a positive integer");
  pc.r = static_cast<uint32_t>(r->get<int64_t>());
  const auto alpha = j.find("lora_alpha");
  if (alpha == j.end()) {
    pc.alpha = 8.0f;  // PEFT's default
  } else if (!alpha->is_number() || !std::isfinite(alpha->get<double>())) {
    fail(file, "\"lora_alpha\" is not a number");
  } else {
    pc.alpha = static_cast<float>(alpha->get<double>());
  }
  if (const auto t = j.find("target_modules"); t != j.end() && t->is_array()) {
    for (const auto& m : *t) {
      if (!m.is_string()) fail(file, "target_modules has an entry that is not a string");
      if (!lora_target_from_peft(m.get<std::string>()))
        fail(file, "unknown target module \"" + m.get<std::string>() +
                       "\" (known: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
    }
  }
  if (truthy(j, "use_rslora")) {
    // rsLoRA scales by alpha / sqrt(r); alpha' = alpha * sqrt(r) gives alpha' / r the same.
    const float folded = static_cast<float>(pc.alpha * std::sqrt(static_cast<double>(pc.r)));
    std::fprintf(stderr, "lmforge: %s: rsLoRA adapter: alpha %g folded to %g (scale alpha/sqrt(r) = %g)\n",
                 file.c_str(), pc.alpha, folded, folded / static_cast<float>(pc.r));
    pc.alpha = folded;
  }
  if (pc.alpha == 0.0f) fail(file, "lora_alpha is 0: the adapter would change nothing");
  return pc;
}

}  // namespace

LoraAdapter read_lora_adapter_peft(std::string_view config_json, std::span<const uint8_t> safetensors,
                                   const LlamaConfig& base, const std::string& path) {
  const std::string config_file = path + "/adapter_config.json";
  const std::string weights_file = path + "/adapter_model.safetensors";
  const PeftConfig pc = parse_config(config_json, config_file);
  const SafetensorsLayout layout = parse_safetensors_layout(safetensors, weights_file);

  LoraAdapter a;
  a.alpha = pc.alpha;
  a.rank = pc.r;
  a.layers.resize(base.num_hidden_layers);
  for (const TensorInfo& info : layout.tensors) {
    const auto parsed = parse_peft_name(info.name);
    if (!parsed)
      fail(weights_file, "tensor " + info.name + " is not a LoRA tensor of a known target (q_proj, k_proj, v_proj, "
                         "o_proj, gate_proj, up_proj, down_proj)");
    if (parsed->layer >= base.num_hidden_layers)
      fail(weights_file, "tensor " + info.name + " is for layer " + std::to_string(parsed->layer) + " but the base has " +
                             std::to_string(base.num_hidden_layers) + " layers: the adapter was made for another base");
    const DType t = info.dtype;
    if (t != DType::F32 && t != DType::F16 && t != DType::BF16)
      fail(weights_file, "tensor " + info.name + " has type " + std::string(dtype_name(t)) + "; F32, F16 or BF16 expected");
    const uint32_t in = lora_target_in(parsed->target, base), out = lora_target_out(parsed->target, base);
    const std::vector<uint64_t> want =
        parsed->is_b ? std::vector<uint64_t>{out, pc.r} : std::vector<uint64_t>{pc.r, in};
    if (info.shape != want) {
      const bool rank_differs = info.shape.size() == 2 && (parsed->is_b ? info.shape[0] == out : info.shape[1] == in);
      fail(weights_file, "tensor " + info.name + " has shape " + shape_text(info.shape) + " but " + shape_text(want) +
                             " was expected" +
                             (rank_differs ? " (its rank differs from r = " + std::to_string(pc.r) +
                                                 "; adapters with mixed ranks are not supported)"
                                           : ": the adapter was made for another base"));
    }
    auto& slot = a.layers[parsed->layer][static_cast<size_t>(parsed->target)];
    if (!slot) slot.emplace(LoraPair{.rank = pc.r, .in = in, .out = out});
    std::vector<float>& dst = parsed->is_b ? slot->b : slot->a;
    if (!dst.empty()) fail(weights_file, "tensor " + info.name + " appears twice");
    const uint64_t rows = want[0], cols = want[1];
    // The layout was validated: offset + nbytes lie inside the file and match the shape.
    const uint8_t* data = safetensors.data() + info.offset;
    const size_t elem = t == DType::F32 ? 4 : 2;
    std::vector<float> m(rows * cols);
    for (uint64_t r = 0; r < rows; ++r) decode_row(t, data + r * cols * elem, &m[r * cols], cols);
    if (parsed->is_b && lora_target_rotary(parsed->target, base)) {
      dst.resize(m.size());
      for (uint64_t r = 0; r < rows; ++r)
        std::memcpy(&dst[r * cols], &m[hf_row_for_gguf_row(r, base.head_dim) * cols], cols * sizeof(float));
    } else {
      dst = std::move(m);
    }
  }
  for (size_t l = 0; l < a.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      const auto& p = a.layers[l][t];
      if (p && (p->a.empty() || p->b.empty()))
        fail(weights_file, peft_tensor_name(static_cast<uint32_t>(l), static_cast<LoraTarget>(t), p->a.empty()) +
                               " is missing (only one of lora_A and lora_B is present)");
    }
  check_lora_adapter(a, base, path);
  return a;
}

void write_lora_adapter_peft(const LoraAdapter& adapter, const LlamaConfig& base, const std::string& dir) {
  check_lora_adapter(adapter, base, dir);
  std::vector<TensorToWrite> tensors;
  std::vector<std::string> modules;
  for (size_t l = 0; l < adapter.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargetCount; ++t) {
      const auto& p = adapter.layers[l][t];
      if (!p) continue;
      const auto target = static_cast<LoraTarget>(t);
      const std::string module = lora_target_peft_module(target);
      if (std::find(modules.begin(), modules.end(), module) == modules.end()) modules.push_back(module);
      const LoraPair* pair = &*p;
      TensorToWrite a{.info = {.name = peft_tensor_name(static_cast<uint32_t>(l), target, false),
                               .dtype = DType::F32,
                               .shape = {pair->rank, pair->in},
                               .nbytes = pair->a.size() * sizeof(float)},
                      .produce = [pair] { return tensor_bytes_of(pair->a); }};
      const bool rotary = lora_target_rotary(target, base);
      const uint64_t hd = base.head_dim;
      TensorToWrite b{.info = {.name = peft_tensor_name(static_cast<uint32_t>(l), target, true),
                               .dtype = DType::F32,
                               .shape = {pair->out, pair->rank},
                               .nbytes = pair->b.size() * sizeof(float)},
                      .produce = [pair, rotary, hd] {
                        if (!rotary) return tensor_bytes_of(pair->b);
                        std::vector<float> hf(pair->b.size());
                        for (uint64_t r = 0; r < pair->out; ++r)
                          std::memcpy(&hf[r * pair->rank], &pair->b[gguf_row_for_hf_row(r, hd) * pair->rank],
                                      pair->rank * sizeof(float));
                        return tensor_bytes_of(hf);
                      }};
      tensors.push_back(std::move(a));
      tensors.push_back(std::move(b));
    }
  std::sort(modules.begin(), modules.end());
  // PEFT's scale is lora_alpha / r; alpha 0 here means scale 1, which is lora_alpha = r there.
  const float alpha = adapter.alpha == 0.0f ? static_cast<float>(adapter.rank) : adapter.alpha;
  nlohmann::json config = {
      {"peft_type", "LORA"},          {"task_type", "CAUSAL_LM"},    {"r", adapter.rank},
      {"lora_alpha", alpha},          {"target_modules", modules},   {"lora_dropout", 0.0},
      {"bias", "none"},               {"fan_in_fan_out", false},     {"use_rslora", false},
      {"use_dora", false},            {"inference_mode", true},      {"init_lora_weights", true},
      {"modules_to_save", nullptr},   {"base_model_name_or_path", adapter.name.empty() ? nullptr : nlohmann::json(adapter.name)},
  };
  AtomicOutputDir out(dir, /*overwrite=*/true);
  const std::string tmp = out.temp_dir();
  write_safetensors(tmp + "/adapter_model.safetensors", tensors, {{"format", "pt"}}, false);
  {
    std::ofstream f(tmp + "/adapter_config.json", std::ios::binary);
    f << config.dump(2) << "\n";
    f.close();
    if (!f) fail(dir, "cannot write adapter_config.json");
  }
  out.commit();
}

}  // namespace lmforge
