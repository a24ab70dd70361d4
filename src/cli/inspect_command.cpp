// `lmforge inspect PATH [--json]`: what a model file or folder is and what it holds.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/inspect_tokenizer.h"
#include "convert/sources/gptq_llama_source.h"
#include "convert/sources/open_model.h"
#include "core/checked_math.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/detect/sniff.h"
#include "formats/training_checkpoint.h"

namespace lmforge::cli {

namespace {

// Metadata for people: long arrays shortened, nested objects flattened one level.
std::string value_text(const nlohmann::json& v) {
  if (v.is_object() && v.contains("type") && v.contains("value")) {  // GGUF typed value
    const auto& val = v["value"];
    if (val.is_array()) {
      std::string s = "[" + v.value("element_type", std::string("?")) + " x " + std::to_string(val.size()) + "]";
      if (!val.empty()) {
        s += " ";
        for (size_t i = 0; i < val.size() && i < 6; ++i) s += (i ? ", " : "") + val[i].dump();
        if (val.size() > 6) s += ", ...";
      }
      return s;
    }
    std::string d = val.dump();
    if (d.size() > 120) d = d.substr(0, 117) + "...";
    return d + "  (" + v["type"].get<std::string>() + ")";
  }
  std::string d = v.dump();
  if (d.size() > 160) d = d.substr(0, 157) + "...";
  return d;
}

// Nested objects (config.json, tokenizer facts) one line per leaf, "config.hidden_size 160".
void print_flattened(const nlohmann::json& obj, const std::string& prefix, int depth = 0) {
  for (const auto& [k, v] : obj.items()) {
    const std::string key = prefix + escaped_for_display(k);
    if (v.is_object() && !v.empty() && depth < 2 && !v.contains("type")) {
      print_flattened(v, key + ".", depth + 1);
    } else {
      std::printf("  %-44s %s\n", key.c_str(), value_text(v).c_str());
    }
  }
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / (1ull << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

int run_inspect(const std::string& path, bool json) {
  const FileFormat fmt = sniff_format(path);
  auto src = open_model(path);
  nlohmann::json out;
  out["path"] = path;
  out["format"] = file_format_name(fmt);
  out["description"] = src->format_description();
  out["metadata"] = src->metadata();
  nlohmann::json tensors = nlohmann::json::array();
  uint64_t params = 0, bytes = 0;
  for (const auto& t : src->tensors()) {
    tensors.push_back({{"name", sanitize_utf8(t.name)}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape},
                       {"bytes", t.nbytes}, {"offset", t.offset}, {"file", t.file}});
    params += t.numel();
    bytes += t.nbytes;
  }
  out["tensors"] = tensors;
  out["totals"] = {{"tensors", src->tensors().size()}, {"parameters", params}, {"bytes", bytes}};
  out["warnings"] = src->warnings();
  if (fmt == FileFormat::kPytorchZip || fmt == FileFormat::kPytorchLegacy) {
    nlohmann::json training = describe_training_checkpoint(*src);
    if (!training.is_null()) out["training_checkpoint"] = training;
  }
  if (const auto* g = dynamic_cast<const GgufReader*>(src.get())) {
    out["version"] = g->version();
    out["alignment"] = g->alignment();
    out["data_offset"] = g->data_start();
  }

  // The tokenizer, when the input carries one: its kind, pre-tokenizer and special ids.
  const TokenizerSummary tokenizer = summarize_tokenizer(path, fmt, *src);
  if (!tokenizer.facts.is_null()) out["tokenizer"] = tokenizer.facts;

  // A GPTQ folder: its quantization settings, and how many linears are stored quantized.
  std::string gptq_line;
  if (fmt == FileFormat::kHfFolder && is_gptq_folder(path)) {
    const auto folder = open_gptq_llama_folder(path);
    const GptqConfig& g = folder->gptq;
    size_t quantized = 0;
    for (const auto& t : src->tensors()) quantized += t.name.size() > 8 && t.name.ends_with(".qweight");
    out["gptq"] = {{"bits", g.bits}, {"group_size", g.group_size}, {"desc_act", g.desc_act}, {"sym", g.sym},
                   {"static_groups", g.static_groups}, {"checkpoint_format", g.checkpoint_format},
                   {"config_file", g.file}, {"quantized_linears", quantized}};
    gptq_line = folder->summary() + "; " + std::to_string(quantized) + " linears quantized (settings from " + g.file + ")";
  }

  if (json) {
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("file:    %s\nformat:  %s\n", path.c_str(), out["description"].get<std::string>().c_str());
  if (!gptq_line.empty()) std::printf("gptq:    %s\n", gptq_line.c_str());
  for (const auto& line : tokenizer.lines) std::printf("tokens:  %s\n", escaped_for_display(line).c_str());
  const auto& meta = out["metadata"];
  if (const auto* g = dynamic_cast<const GgufReader*>(src.get())) {
    std::printf("\nmetadata (%zu keys, file order):\n", g->kvs().size());
    for (const auto& kv : g->kvs())
      std::printf("  %-44s %s\n", escaped_for_display(kv.key).c_str(), value_text(kv.value.to_json()).c_str());
  } else if (meta.is_object() && !meta.empty()) {
    std::printf("\nmetadata:\n");
    print_flattened(meta, "");
  }
  if (out.contains("training_checkpoint")) {
    std::printf("\ntraining checkpoint:\n");
    print_flattened(out["training_checkpoint"], "");
  }
  std::printf("\n  %-48s %-6s %-22s %12s %12s\n", "tensor", "type", "shape", "bytes", "offset");
  for (const auto& t : src->tensors()) {
    std::printf("  %-48s %-6s %-22s %12llu %12llu\n", escaped_for_display(t.name).c_str(), std::string(dtype_name(t.dtype)).c_str(),
                shape_text(t.shape).c_str(), static_cast<unsigned long long>(t.nbytes),
                static_cast<unsigned long long>(t.offset));
  }
  std::printf("\ntotals:  %zu tensors, %llu parameters, %s of tensor data\n", src->tensors().size(),
              static_cast<unsigned long long>(params), human_bytes(bytes).c_str());
  for (const auto& w : src->warnings()) std::printf("warning: %s\n", escaped_for_display(w).c_str());
  return 0;
}

}  // namespace

Action& register_inspect(CLI::App& app) {
  static Action action;
  static std::string path;
  static bool json = false;
  auto* sub = app.add_subcommand("inspect", "Describe a model file or folder: format, metadata, tensors, totals");
  sub->add_option("path", path, "Any model file or folder `lmforge formats` lists as readable")->required();
  sub->add_flag("--json", json, "Print one JSON object instead of text");
  action = [] { return run_inspect(path, json); };
  return action;
}

}  // namespace lmforge::cli
