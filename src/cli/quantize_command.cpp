// `lmforge quantize IN OUT.gguf TYPE [--pure] [--imatrix FILE] [--allow-requantize]
//  [--leave-output-tensor] [-t N] [--hist] [--dry-run] [--json] [--force] [-q]`
//
// A whole llama model (GGUF, Hugging Face or Meta folder, legacy GGML, ONNX) to a GGUF whose
// tensors get the types llama-quantize gives them for TYPE (convert/llama_quant_mix), written
// by the GGUF sink. The plan is made and checked first, so a refusal writes nothing. With
// --imatrix (GGUF or legacy .dat, as llama-imatrix or `lmforge imatrix` writes them), tensors
// with an entry go through ggml's importance-weighted quantizers (convert/imatrix_for_quantize).
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "convert/imatrix_for_quantize.h"
#include "convert/quantize_plan.h"
#include "convert/sinks/gguf_sink.h"
#include "convert/sources/open_llama_model_source.h"
#include "core/error.h"
#include "core/tensor.h"
#include "quant/code_histogram.h"

namespace lmforge::cli {

namespace {

std::string size_text(uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1073741824.0) std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
  else if (b >= 1048576.0) std::snprintf(buf, sizeof buf, "%.2f MiB", b / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.2f KiB", b / 1024.0);
  return buf;
}

// One line per tensor: name, shape, type in -> type out, size in -> size out.
std::string tensor_line(const QuantizeTensorPlan& t, size_t index, size_t count) {
  char line[384];
  std::snprintf(line, sizeof line, "[%4zu/%4zu] %-32s %-16s %5s -> %-5s %12s -> %s", index + 1, count, t.name.c_str(),
                shape_text(t.shape).c_str(), std::string(dtype_name(t.from)).c_str(), std::string(dtype_name(t.to)).c_str(),
                size_text(t.bytes_in).c_str(), size_text(t.bytes_out).c_str());
  return line;
}

// The histograms --hist collected, by GGUF tensor name, as fractions of each tensor's codes.
using Histograms = std::map<std::string, std::vector<double>>;

std::vector<double> fractions(const CodeHistogram& h) {
  uint64_t total = 0;
  for (uint64_t c : h) total += c;
  std::vector<double> f(h.size());
  for (size_t i = 0; i < h.size(); ++i) f[i] = total ? static_cast<double>(h[i]) / static_cast<double>(total) : 0;
  return f;
}

// The line printed under a tensor with --hist, as the old llama.cpp quantize printed it.
std::string histogram_line(const std::vector<double>& f) {
  std::string line = "             hist:";
  char buf[16];
  for (double v : f) {
    std::snprintf(buf, sizeof buf, " %.3f", v);
    line += buf;
  }
  return line;
}

// Totals on stderr, or the --json summary on stdout; `written` is empty for --dry-run.
void report(const QuantizePlan& plan, double seconds, const std::string& written, bool json, bool quiet,
            const Histograms& hist = {}) {
  const std::string_view type = quant_mix_info(plan.mix).name;
  if (json) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : plan.tensors) {
      nlohmann::json entry = {{"name", t.name}, {"type", dtype_name(t.to)}, {"shape", t.shape}, {"bytes", t.bytes_out}};
      if (const auto it = hist.find(t.name); it != hist.end()) entry["hist"] = it->second;
      tensors.push_back(std::move(entry));
    }
    const nlohmann::json j = {{"type", type}, {"size_in", plan.bytes_in}, {"size_out", plan.bytes_out}, {"seconds", seconds}, {"tensors", tensors}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  if (quiet) return;
  const double bpw = plan.elements ? 8.0 * static_cast<double>(plan.bytes_out) / static_cast<double>(plan.elements) : 0;
  std::fprintf(stderr, "model size:  %s -> %s (%.2f bits per weight)\n", size_text(plan.bytes_in).c_str(), size_text(plan.bytes_out).c_str(), bpw);
  if (written.empty())
    std::fprintf(stderr, "dry run (%s): nothing written\n", std::string(type).c_str());
  else
    std::fprintf(stderr, "wrote %s (%s) in %.2f s\n", written.c_str(), std::string(type).c_str(), seconds);
}

int run_quantize(const std::string& in, const std::string& out, const std::string& type_name, QuantMixFlags flags,
                 const std::string& imatrix_path, bool allow_requantize, int threads, bool hist, bool dry_run, bool json, bool force,
                 bool quiet) {
  const auto mix = quant_mix_from_name(type_name);
  if (!mix) throw UsageError("unknown TYPE '" + type_name + "'; valid types: " + quant_mix_names());
  if (threads < 0) throw UsageError("-t must be at least 1 (0 or absent: one per core)");
  std::error_code ec;
  if (std::filesystem::weakly_canonical(in, ec) == std::filesystem::weakly_canonical(out, ec))
    throw UsageError("the output " + out + " is the input; choose another path");

  // The matrix is read (and checked) first: a bad file fails before the model is opened.
  std::optional<ImatrixData> imatrix;
  if (!imatrix_path.empty()) imatrix = read_imatrix_file(imatrix_path);
  flags.has_imatrix = imatrix.has_value();
  LlamaModelSource model = open_llama_model_source(in);
  const QuantizePlan plan = plan_llama_quantize(model, *mix, flags);
  if (dry_run) {  // as llama-quantize --dry-run: the types and sizes, even those lmforge cannot write yet
    if (!json && !quiet)
      for (size_t i = 0; i < plan.tensors.size(); ++i) std::fprintf(stderr, "%s\n", tensor_line(plan.tensors[i], i, plan.tensors.size()).c_str());
    report(plan, 0, "", json, quiet);
    return 0;
  }
  check_quantize_plan(plan, allow_requantize);
  if (plan.requantizes && !quiet)
    std::fprintf(stderr, "warning: requantizing an already quantized model: the result is worse than quantizing the original\n");

  QuantizeImportance importance;
  if (imatrix) {
    importance = importance_for_plan(plan, *imatrix, imatrix_path);
    if (!json && !quiet) {
      std::fprintf(stderr, "imatrix: %zu entries from %s (%u chunks); %zu tensors weighted, %zu without an entry\n", imatrix->entries.size(),
                   imatrix_path.c_str(), imatrix->chunk_count, importance.by_tensor.size(), importance.without_weights.size());
      for (const auto& name : importance.without_weights) std::fprintf(stderr, "imatrix: no weights for %s\n", name.c_str());
    }
  }

  GgufTensorTypes types;
  types.type_of = quantize_type_of(plan);
  types.file_type = quant_mix_info(*mix).llama_ftype;
  types.reject_nonfinite = true;
  types.line = [&plan](size_t i, size_t n, const std::string& name) {
    for (const auto& t : plan.tensors)
      if (t.name == name) return tensor_line(t, i, n);
    return name;
  };
  Histograms histograms;
  std::mutex histograms_mutex;
  if (hist)
    types.after_tensor = [&](const std::string& name, DType type, const TensorBytes& data) -> std::string {
      uint64_t elements = 0;
      for (const auto& t : plan.tensors)
        if (t.name == name) {
          elements = 1;
          for (uint64_t d : t.shape) elements *= d;
        }
      const auto h = code_histogram(type, data.data(), elements);
      if (!h) return "";
      const auto f = fractions(*h);
      std::lock_guard lock(histograms_mutex);
      histograms[name] = f;
      return json || quiet ? "" : histogram_line(f);
    };
  if (imatrix) {
    types.importance = [&importance](const std::string& name) -> const std::vector<float>* {
      const auto it = importance.by_tensor.find(name);
      return it == importance.by_tensor.end() ? nullptr : &it->second;
    };
    types.extra_kvs = importance.kvs;
  }
  ConvertOptions opt;
  opt.overwrite = force;
  opt.quiet = quiet || json;
  opt.threads = static_cast<unsigned>(threads);
  const ConvertReport rep = write_llama_gguf(model, out, opt, types);
  report(plan, rep.seconds, rep.output, json, quiet, histograms);
  return 0;
}

}  // namespace

Action& register_quantize(CLI::App& app) {
  static Action action;
  static std::string in, out, type, imatrix;
  static QuantMixFlags flags;
  static bool allow_requantize = false, hist = false, dry_run = false, json = false, force = false, quiet = false;
  static int threads = 0;
  auto* sub = app.add_subcommand("quantize", "Quantize a llama model to GGUF with llama-quantize's per-tensor types");
  sub->add_option("in", in, "Input: a whole llama model (GGUF, Hugging Face or Meta folder, legacy GGML, ONNX)")->required();
  sub->add_option("out", out, "Output GGUF file")->required();
  sub->add_option("type", type, "F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K (any case)")
      ->required();
  sub->add_flag("--pure", flags.pure, "Every weight matrix gets TYPE (no mixture rules; rows that do not fit still fall back)");
  sub->add_option("--imatrix", imatrix, "Importance matrix (GGUF or legacy .dat, from llama-imatrix or lmforge imatrix): weighted quantization");
  sub->add_flag("--allow-requantize", allow_requantize, "Allow a quantized input (dequantized, then quantized: quality drops)");
  sub->add_flag("--leave-output-tensor", flags.leave_output_tensor, "Keep output.weight in its input type");
  sub->add_option("-t,--threads", threads, "Threads quantizing each big tensor (default: one per available core)");
  sub->add_flag("--hist", hist, "Under each 4-bit tensor (Q4_0, Q4_1, Q4_K; Q5_0/Q5_1 by their top 4 bits), the 16-bucket histogram of its codes");
  sub->add_flag("--dry-run", dry_run, "Print each tensor's type and size (types without an encoder too); write nothing");
  sub->add_flag("--json", json, "Print a JSON summary on stdout (implies --quiet)");
  sub->add_flag("--force", force, "Overwrite an existing output");
  sub->add_flag("-q,--quiet", quiet, "No progress output");
  action = [] { return run_quantize(in, out, type, flags, imatrix, allow_requantize, threads, hist, dry_run, json, force, quiet); };
  return action;
}

}  // namespace lmforge::cli
