// `lmforge convert SRC DST [--outtype T] [--to FORMAT] [--force] [--quiet] [--json]`
//
//   whole llama model (HF or Meta folder, legacy GGML, ONNX)  -> GGUF   (DST ends in .gguf)
//   BERT folder (config.json model_type "bert")   -> GGUF "bert"   (f16 or f32; bert_gguf_sink.h)
//   BERT GGUF                                      -> BERT folder   (bert_hf_sink.h)
//   GGUF, Meta folder, legacy GGML, ONNX    -> HF folder               (DST has no known extension)
//   any single checkpoint or tensor file    -> safetensors             (DST ends in .safetensors)
//   any file or folder lmforge reads        -> weights-only ONNX       (DST ends in .onnx)
//   whole llama model (GGUF included)       -> ggjt v3 legacy GGML     (--to ggml)
//
// --outtype takes every type name `lmforge quantize` takes: a block type (f32 ... q6_k) makes
// every matrix that type (gguf_type_policy's rules); a mix name that is no single type (q3_k_s,
// q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m) gives each tensor of a GGUF the type
// llama-quantize gives it, as `lmforge quantize` does.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/lora_flags.h"
#include "cli/lora_merge.h"
#include "convert/quantize_plan.h"
#include "convert/sinks/ggjt_sink.h"
#include "convert/sinks/gguf_sink.h"
#include "convert/sinks/hf_sink.h"
#include "convert/sinks/onnx_sink.h"
#include "convert/sinks/safetensors_sink.h"
#include "arch/bert/bert_config.h"
#include "convert/sinks/bert_gguf_sink.h"
#include "convert/sinks/bert_hf_sink.h"
#include "convert/sources/open_llama_model_source.h"
#include "convert/sources/open_model.h"
#include "core/error.h"
#include "formats/detect/format_catalog.h"
#include "formats/detect/sniff.h"
#include "quant/type_traits.h"

namespace lmforge::cli {

namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string_view text) {
  std::string s(text);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A quantize mix that is not the name of one type (Q4_K_M, ...); nullopt otherwise.
std::optional<QuantMix> mix_only(const std::string& name) {
  if (dtype_from_name(name)) return std::nullopt;
  return quant_mix_from_name(name);
}

// The --outtype values, lower case: every type the quant table can encode, in its order, then
// the quantize mixes that are not one type.
std::string outtype_names() {
  std::string list;
  for (const TypeTraits& row : all_type_traits()) {
    if (row.encode == nullptr) continue;
    list += (list.empty() ? "" : ", ") + lower(dtype_name(row.type));
  }
  for (const QuantMixInfo& m : all_quant_mixes())
    if (mix_only(std::string(m.name))) list += ", " + lower(m.name);
  return list;
}

// GGUF output with a quantize mix: the plan `lmforge quantize` makes (no --pure), written by the
// same sink. Convert has always re-encoded quantized legacy inputs for --outtype, so a mix may
// requantize too (with quantize's warning).
ConvertReport write_gguf_mix(LlamaModelSource& model, const std::string& dst, const ConvertOptions& opt, QuantMix mix) {
  const QuantizePlan plan = plan_llama_quantize(model, mix, QuantMixFlags{});
  check_quantize_plan(plan, /*allow_requantize=*/true);
  if (plan.requantizes && !opt.quiet)
    std::fprintf(stderr, "warning: requantizing an already quantized model: the result is worse than quantizing the original\n");
  GgufTensorTypes types;
  types.type_of = quantize_type_of(plan);
  types.file_type = quant_mix_info(mix).llama_ftype;
  types.reject_nonfinite = true;
  return write_llama_gguf(model, dst, opt, types);
}

// Refuses a destination that is, or lies inside, the source: inputs are never modified.
void check_not_input(const std::string& src, const std::string& dst) {
  std::error_code ec;
  const fs::path s = fs::weakly_canonical(src, ec);
  const fs::path d = fs::weakly_canonical(dst, ec);
  if (s == d) throw UsageError("the output " + dst + " is the input; choose another path");
  auto rel = d.lexically_relative(s);
  if (fs::is_directory(s, ec) && !rel.empty() && *rel.begin() != "..")
    throw UsageError("the output " + dst + " lies inside the input folder; choose another path");
}

// "5GB", "500MB", "64KiB" or plain bytes; decimal units as Hugging Face uses them.
uint64_t parse_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    throw UsageError("--max-shard-size: '" + text + "' is not a size");
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::pair<const char*, double> units[] = {{"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
                                                  {"KIB", 1024.0}, {"MIB", 1048576.0}, {"GIB", 1073741824.0}};
  for (const auto& [name, mult] : units) {
    if (unit == name) {
      if (!(value * mult >= 1) || value * mult > 1e18) throw UsageError("--max-shard-size is out of range");
      return static_cast<uint64_t>(value * mult);
    }
  }
  throw UsageError("--max-shard-size: unknown unit '" + unit + "' (use B, KB, MB, GB, KiB, MiB, GiB)");
}

// The type most of the model's matrices have: what a merged model is written in when
// --outtype is not given (the merged rows are then quantized back into it).
std::optional<DType> main_matrix_type(const TensorSource& weights) {
  std::map<DType, uint64_t> elements;
  for (const TensorInfo& t : weights.tensors())
    if (t.shape.size() == 2) elements[t.dtype] += t.numel();
  std::optional<DType> best;
  for (const auto& [type, n] : elements)
    if (!best || n > elements[*best]) best = type;
  return best && can_encode(*best) ? best : std::nullopt;
}

int run_convert(const std::string& src, const std::string& dst, const std::string& outtype,
                std::string to, bool force, bool quiet, bool json, const std::string& shard_size,
                const std::vector<LoraRequest>& loras) {
  ConvertOptions opt;
  if (!shard_size.empty()) opt.max_shard_bytes = parse_size(shard_size);
  opt.overwrite = force;
  opt.quiet = quiet || json;
  std::optional<QuantMix> mix;
  if (!outtype.empty()) {
    auto t = dtype_from_name(outtype);
    mix = mix_only(outtype);
    if (!mix && (!t || !can_encode(*t)))
      throw UsageError("--outtype must be one of " + outtype_names() + " (got '" + outtype + "')");
    if (!mix) opt.outtype = t;
  }
  if (to.empty())
    to = ends_with(dst, ".gguf") ? "gguf" : ends_with(dst, ".safetensors") ? "safetensors" : ends_with(dst, ".onnx") ? "onnx" : "hf";
  {
    const auto targets = convert_targets();
    if (std::find(targets.begin(), targets.end(), to) == targets.end()) {
      std::string list;
      for (auto t : targets) list += (list.empty() ? "" : ", ") + std::string(t);
      throw UsageError("--to must be one of " + list + " (got '" + to + "')");
    }
  }
  check_not_input(src, dst);
  if (mix && to != "gguf")
    throw UsageError("--outtype " + outtype + " is a llama-quantize mix of types, for GGUF output only");
  if (opt.max_shard_bytes > 0 && to != "hf") throw UsageError("--max-shard-size applies to Hugging Face folder output only");

  const FileFormat in = sniff_format(src);
  // Unreadable or unrecognised input is bad input (exit 1), not a usage error: let the
  // reader say what is wrong with it.
  if (in == FileFormat::kUnknown) (void)open_model(src);
  const bool whole_model = in == FileFormat::kHfFolder || in == FileFormat::kMetaFolder || in == FileFormat::kGgmlLegacy ||
                           in == FileFormat::kOnnx || in == FileFormat::kOnnxFolder;
  ConvertReport rep;
  if (!loras.empty()) {
    // An adapter merged into a whole llama model, GGUF included (merging is not requantizing).
    if (to != "gguf" && to != "ggml" && to != "hf")
      throw UsageError("--lora merges into a llama model written as GGUF, a Hugging Face folder or ggjt");
    if (!whole_model && in != FileFormat::kGguf) throw UsageError("--lora needs a whole llama model as input");
    if (mix) throw UsageError("--lora: give a single --outtype (the merged model is written in one type)");
    LlamaModelSource model = open_llama_model_source(src);
    if (!opt.outtype && to == "gguf") opt.outtype = main_matrix_type(*model.weights);
    const size_t merged = merge_loras_into(model, loras, opt.quiet);
    if (!opt.quiet) std::fprintf(stderr, "lmforge: %zu weights merged\n", merged);
    rep = to == "gguf" ? write_llama_gguf(model, dst, opt) : to == "hf" ? write_llama_hf(model, dst, opt) : write_ggjt_v3(model, dst, opt);
  } else if (to == "gguf" && in == FileFormat::kHfFolder && is_bert_folder(src)) {
    if (mix) throw UsageError("a BERT model converts to GGUF as f16 or f32");
    rep = write_bert_gguf(src, dst, opt);
  } else if (to == "gguf") {
    if (in == FileFormat::kGguf) throw UsageError("GGUF -> GGUF (re)quantization is `lmforge quantize IN OUT.gguf TYPE`");
    if (!whole_model)
      throw UsageError("GGUF output needs a whole llama model as input: a Hugging Face or Meta folder, a legacy GGML or an ONNX file");
    LlamaModelSource model = open_llama_model_source(src);
    rep = mix ? write_gguf_mix(model, dst, opt, *mix) : write_llama_gguf(model, dst, opt);
  } else if (to == "hf") {
    if (in == FileFormat::kGguf && is_bert_gguf_path(src)) {
      rep = write_bert_hf_folder(src, dst, opt);
    } else if (in == FileFormat::kGguf) {
      rep = convert_gguf_to_hf(src, dst, opt);
    } else if (whole_model && in != FileFormat::kHfFolder) {
      LlamaModelSource model = open_llama_model_source(src);
      rep = write_llama_hf(model, dst, opt);
    } else {
      throw UsageError("a Hugging Face folder is written from a GGUF, Meta folder, legacy GGML or ONNX model; for checkpoints use a .safetensors destination");
    }
  } else if (to == "safetensors") {
    if (in == FileFormat::kHfFolder || in == FileFormat::kMetaFolder || in == FileFormat::kOnnxFolder)
      throw UsageError("the input is a folder; convert it to .gguf, or name one checkpoint file");
    rep = convert_to_safetensors(src, dst, opt);
  } else if (to == "onnx") {
    rep = convert_to_onnx(src, dst, opt);
  } else if (to == "ggml") {
    if (!whole_model && in != FileFormat::kGguf) throw UsageError("ggjt output needs a whole llama model (GGUF, HF or Meta folder, legacy GGML, ONNX)");
    LlamaModelSource model = open_llama_model_source(src);
    rep = write_ggjt_v3(model, dst, opt);
  } else {
    throw UsageError("--to must be gguf, hf, safetensors, onnx or ggml");
  }

  if (json) {
    nlohmann::json j = {{"output", rep.output}, {"format", to}, {"tensors", rep.tensors},
                        {"bytes_read", rep.bytes_read}, {"bytes_written", rep.bytes_written}, {"seconds", rep.seconds}};
    std::printf("%s\n", j.dump().c_str());
  } else if (!quiet) {
    std::fprintf(stderr, "wrote %s: %llu tensors, %.1f MB in %.2f s\n", rep.output.c_str(),
                 static_cast<unsigned long long>(rep.tensors), static_cast<double>(rep.bytes_written) / 1e6, rep.seconds);
  }
  return 0;
}

}  // namespace

Action& register_convert(CLI::App& app) {
  static Action action;
  static std::string src, dst, outtype, to, shard_size;
  static bool force = false, quiet = false, json = false;
  auto* sub = app.add_subcommand("convert", "Convert a model between formats (see `lmforge formats`)");
  sub->add_option("src", src, "Input: any format `lmforge formats` lists as readable")->required();
  sub->add_option("dst", dst, "Output path (.gguf, .safetensors, .onnx, a folder name, or any name with --to ggml)")->required();
  sub->add_option("--outtype", outtype, "Output tensor type: " + outtype_names() + " (GGUF default f16)");
  sub->add_option("--to", to, "Output format when the destination's name does not say: gguf, hf, safetensors, onnx, ggml");
  sub->add_option("--max-shard-size", shard_size, "Hugging Face output: split weights into shards of this size (e.g. 2GB)");
  sub->add_flag("--force", force, "Overwrite an existing output");
  sub->add_flag("-q,--quiet", quiet, "No progress output");
  sub->add_flag("--json", json, "Print a JSON summary on stdout (implies --quiet)");
  static LoraFlags lora_flags;
  add_lora_flags(sub, lora_flags);
  action = [sub] {
    return run_convert(src, dst, outtype, to, force, quiet, json, shard_size, lora_requests(lora_flags, sub));
  };
  return action;
}

}  // namespace lmforge::cli
