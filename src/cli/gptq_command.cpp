// `lmforge gptq -m MODEL --calib TEXT -o OUT [--bits 2|3|4|8] [--group-size 128] [--act-order]
//  [--sym] [--damp 0.01] [--nsamples 128] [--seqlen 512] [--rtn] [-t N] [--json] [-q] [--force]`
//
// GPTQ (src/gptq/) of every decoder linear of a llama model with calibration text, written as
// an AutoGPTQ folder, or with OUT ending in .gguf as a GGUF: the folder is written to a
// temporary folder beside OUT and converted as `lmforge convert` converts GPTQ folders (4-bit
// groups of whole 32-blocks in input order become Q4_1 blocks; anything else is dequantized to
// F16), then removed; the command says which mapping it took and the error it adds. One line per layer (seconds, relative reconstruction error of each
// linear on its calibration inputs), then a summary; --json prints the same as one object.
//
// Also the hidden `lmforge gptq-layer`, the test suite's entry to the solver alone: a weight
// matrix and its inputs in raw float32 files in, codes, grids and g_idx out as JSON
// (tests/oracles/check_gptq.py compares them with a float64 GPTQ written in numpy).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "core/thread_pool.h"
#include "convert/sinks/gguf_sink.h"
#include "convert/sources/open_llama_model_source.h"
#include "engine/model_loader.h"
#include "formats/gguf/gguf_reader.h"
#include "generate/perplexity.h"
#include "gptq/blas.h"
#include "gptq/calibration_windows.h"
#include "gptq/folder_writer.h"
#include "gptq/settings_check.h"
#include "quant/gptq_packing.h"
#include "tokenizer/tokenizer.h"

namespace lmforge::cli {

namespace {

struct GptqOptions {
  std::string model, calib, out;
  GptqSettings settings;
  uint32_t nsamples = 128, seqlen = 512, threads = 0;
  bool rtn = false, json = false, quiet = false, force = false;
};

std::string read_text(const std::string& path) {
  const auto file = MappedFile::open(path);
  const auto b = file->bytes();
  std::string text(reinterpret_cast<const char*>(b.data()), b.size());
  if (const auto bad = find_invalid_utf8(text)) fail(path, "the text is not valid UTF-8", *bad);
  return text;
}

nlohmann::json layer_json(const QuantizedLayer& q) {
  nlohmann::json lin = nlohmann::json::array();
  for (const auto& r : q.reports)
    lin.push_back({{"name", slot_short_name(r.slot)}, {"relative_error", r.relative_error}, {"dead_columns", r.dead_columns}});
  return {{"layer", q.index}, {"seconds", q.seconds}, {"linears", lin}};
}

bool ends_with_gguf(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

// Removes the temporary GPTQ folder of a .gguf output however the command ends.
struct TemporaryFolder {
  std::string path;
  ~TemporaryFolder() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// What the GGUF of a GPTQ folder holds for the decoder linears, and the error that adds: the
// converter's choice, read back from the written file.
std::string gguf_mapping_note(const std::string& gguf) {
  const auto reader = GgufReader::open(gguf);
  size_t q4_1 = 0, other = 0;
  for (const auto& t : reader->tensors()) {
    if (t.name.rfind("blk.", 0) != 0 || t.shape.size() != 2) continue;
    (t.dtype == DType::Q4_1 ? q4_1 : other) += 1;
  }
  if (other == 0)
    return "the " + std::to_string(q4_1) + " GPTQ linears map onto Q4_1 blocks (d = scale exactly; m = -scale * zero "
           "rounded to fp16, the only error: at most 2^-11 |m| per weight)";
  return "no llama.cpp block type holds these groups exactly (Q4_1 needs 4 bits, no act-order, whole 32-column "
         "groups): " + std::to_string(other) + " linears dequantized to F16 (each weight rounded to f16: at most 2^-11 "
         "relative)";
}

int run_gptq(GptqOptions o) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const bool to_gguf = ends_with_gguf(o.out);
  if (o.nsamples < 1) throw UsageError("gptq: --nsamples must be at least 1");
  if (o.seqlen < 2 || o.seqlen > (1u << 20)) throw UsageError("gptq: --seqlen must be between 2 and 1048576");
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  if (o.threads > 1024) throw UsageError("gptq: -t must be between 1 and 1024");
  if (!gptq_bits_supported(o.settings.bits))
    throw UsageError("--bits " + std::to_string(o.settings.bits) + " is not a GPTQ width; use 2, 3, 4 or 8");
  check_output_path(o.out, o.force);
  const bool chatty = !o.json && !o.quiet;
  TemporaryFolder folder_for_gguf;
  const std::string gguf_out = o.out;
  if (to_gguf) {  // the folder first, beside the GGUF (same file system), named for this process
    folder_for_gguf.path = o.out + ".gptq-folder." + std::to_string(::getpid());
    o.out = folder_for_gguf.path;
  }

  const std::string text = read_text(o.calib);
  LoadedModel loaded = load_model_for_inference(o.model);
  const LlamaConfig& c = loaded.model->config();
  check_gptq_settings(c, o.settings);
  const Tokenizer& tok = *loaded.tokenizer;
  const PerplexityInput input = perplexity_input(tok, text);
  const CalibrationWindows cal = cut_calibration_windows(input.tokens, input.bos_id, o.seqlen, o.nsamples, o.calib);
  if (cal.available < o.nsamples && !o.json)
    std::fprintf(stderr, "lmforge: warning: the calibration text holds %llu windows of %u tokens, fewer than --nsamples %u: using all of them\n",
                 static_cast<unsigned long long>(cal.available), o.seqlen, o.nsamples);
  if (o.seqlen > c.max_position_embeddings && !o.json)
    std::fprintf(stderr, "lmforge: warning: --seqlen %u is beyond the model's training context (%u)\n", o.seqlen,
                 c.max_position_embeddings);

  ModelQuantizerOptions mo;
  mo.settings = o.settings;
  mo.rtn = o.rtn;
  mo.threads = o.threads;
  if (chatty)
    std::fprintf(stderr, "lmforge: %s %d-bit, group size %lld%s%s, %zu windows x %u tokens, %u threads\n",
                 o.rtn ? "RTN" : "GPTQ", o.settings.bits, static_cast<long long>(o.settings.group_size),
                 o.settings.act_order ? ", act-order" : "", o.settings.sym ? ", symmetric" : "", cal.windows.size(),
                 o.seqlen, o.threads);
  ModelQuantizer quantizer(*loaded.model, cal.windows, mo);
  GptqFolderOptions fo;
  fo.settings = o.settings;
  fo.rtn = o.rtn;
  fo.overwrite = o.force;
  fo.n_windows = static_cast<uint32_t>(cal.windows.size());
  fo.seqlen = o.seqlen;
  nlohmann::json layers = nlohmann::json::array();
  double err_sum = 0, err_max = 0;
  size_t err_count = 0;
  const uint32_t n_layers = quantizer.n_layers();
  auto on_layer = [&](const QuantizedLayer& q) {
    layers.push_back(layer_json(q));
    std::string line;
    char buf[96];
    for (const auto& r : q.reports) {
      err_sum += r.relative_error;
      err_max = std::max(err_max, r.relative_error);
      ++err_count;
      std::snprintf(buf, sizeof buf, " %s %.4f", slot_short_name(r.slot), r.relative_error);
      line += buf;
    }
    if (chatty)
      std::fprintf(stderr, "[%3u/%3u] blk.%-3u %7.2f s  error%s\n", q.index + 1, n_layers, q.index, q.seconds, line.c_str());
  };
  const GptqFolderSummary sum = write_gptq_folder(loaded, quantizer, o.out, fo, on_layer);
  std::string mapping;
  if (to_gguf) {
    LlamaModelSource folder = open_llama_model_source(o.out);
    ConvertOptions co;
    co.overwrite = o.force;
    co.quiet = true;
    write_llama_gguf(folder, gguf_out, co);
    mapping = gguf_mapping_note(gguf_out);
    o.out = gguf_out;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double err_mean = err_count ? err_sum / static_cast<double>(err_count) : 0;
  if (sum.unrepresentable_zeros > 0 && !o.json)
    std::fprintf(stderr,
                 "lmforge: warning: %llu asymmetric groups have zero point 0, which the v1 checkpoint format cannot store "
                 "(read back as %d, as AutoGPTQ writes them); --sym avoids them\n",
                 static_cast<unsigned long long>(sum.unrepresentable_zeros), 1 << o.settings.bits);
  if (o.json) {
    nlohmann::json j = {{"method", o.rtn ? "rtn" : "gptq"},
                              {"bits", o.settings.bits},
                              {"group_size", o.settings.group_size},
                              {"act_order", o.settings.act_order},
                              {"sym", o.settings.sym},
                              {"damp", o.settings.damp},
                              {"windows", cal.windows.size()},
                              {"seqlen", o.seqlen},
                              {"threads", o.threads},
                              {"seconds", seconds},
                              {"bytes", sum.bytes},
                              {"unrepresentable_zeros", sum.unrepresentable_zeros},
                              {"mean_relative_error", err_mean},
                              {"max_relative_error", err_max},
                              {"layers", layers},
                              {"output", o.out}};
    if (to_gguf) j["gguf_mapping"] = mapping;
    std::printf("%s\n", j.dump().c_str());
  } else if (!o.quiet) {
    if (to_gguf) std::fprintf(stderr, "GGUF: %s\n", mapping.c_str());
    std::fprintf(stderr, "wrote %s (%.2f MiB of tensors) in %.1f s; relative error mean %.4f, max %.4f\n", o.out.c_str(),
                 static_cast<double>(to_gguf ? std::filesystem::file_size(o.out) : sum.bytes) / 1048576.0, seconds,
                 err_mean, err_max);
  }
  return 0;
}

// gptq-layer: the solver on one matrix, for the float64 reference test.
struct LayerOptions {
  std::string weights, inputs, out;
  uint64_t rows = 0, cols = 0, samples = 1;
  GptqSettings settings;
  bool rtn = false;
};

std::vector<float> read_f32(const std::string& path, uint64_t count) {
  const auto f = MappedFile::open(path);
  if (f->bytes().size() != count * 4) fail(path, "expected " + std::to_string(count * 4) + " bytes of float32");
  std::vector<float> v(count);
  std::memcpy(v.data(), f->bytes().data(), count * 4);
  return v;
}

int run_gptq_layer(const LayerOptions& o) {
  if (!gptq_bits_supported(o.settings.bits)) throw UsageError("--bits must be 2, 3, 4 or 8");
  if (o.rows == 0 || o.cols == 0 || o.samples == 0) throw UsageError("--rows, --cols and --samples must be positive");
  const auto fsize = MappedFile::open(o.inputs)->bytes().size();
  const uint64_t tokens = fsize / (4 * o.cols);
  const std::vector<float> w = read_f32(o.weights, o.rows * o.cols);
  const std::vector<float> x = read_f32(o.inputs, tokens * o.cols);
  blas_set_threads(1);
  const std::vector<float> h = hessian_from_inputs(x.data(), tokens, o.cols, o.samples);
  ThreadPool pool(1);
  const QuantizedMatrix q = o.rtn ? rtn_quantize(w.data(), o.rows, o.cols, o.settings, pool)
                                  : gptq_quantize(w.data(), o.rows, o.cols, h.data(), o.settings, pool);
  std::vector<float> scales, zeros;
  for (const auto& g : q.grids) {
    scales.push_back(g.scale);
    zeros.push_back(g.zero);
  }
  const nlohmann::json j = {{"codes", q.codes},   {"scales", scales},
                            {"zeros", zeros},     {"g_idx", q.g_idx},
                            {"n_groups", q.n_groups}, {"dead_columns", q.dead_columns},
                            {"relative_error", relative_reconstruction_error(w.data(), q.dequantized.data(), o.rows, o.cols, h.data())}};
  AtomicOutputFile f(o.out, true);
  const std::string s = j.dump();
  f.write(s.data(), s.size());
  f.commit();
  return 0;
}

}  // namespace

Action& register_gptq(CLI::App& app) {
  static Action action;
  static GptqOptions o;
  auto* sub = app.add_subcommand("gptq", "Quantize a llama model with GPTQ (or RTN) and calibration text into an AutoGPTQ folder");
  sub->add_option("-m,--model", o.model, "Input: a whole llama model (GGUF, Hugging Face or Meta folder, ...)")->required();
  sub->add_option("--calib", o.calib, "Calibration text (UTF-8)")->required();
  sub->add_option("-o,--out", o.out, "Output folder (AutoGPTQ layout), or a .gguf file (Q4_1 where exact, else F16)")->required();
  sub->add_option("--bits", o.settings.bits, "Bits per weight: 2, 3, 4 or 8 (default 4)");
  sub->add_option("--group-size", o.settings.group_size, "Columns per group (default 128); -1: one group per row");
  sub->add_flag("--act-order", o.settings.act_order, "Process columns by descending Hessian diagonal (desc_act; writes g_idx)");
  sub->add_flag("--sym", o.settings.sym, "Symmetric grids (default asymmetric)");
  sub->add_option("--damp", o.settings.damp, "Dampening, a fraction of the mean Hessian diagonal (default 0.01)");
  sub->add_option("--nsamples", o.nsamples, "Calibration windows (default 128)");
  sub->add_option("--seqlen", o.seqlen, "Tokens per calibration window (default 512)");
  sub->add_flag("--rtn", o.rtn, "Round to nearest with the same groups instead of GPTQ (the baseline)");
  sub->add_option("-t,--threads", o.threads, "Threads (default: one per core)");
  sub->add_flag("--json", o.json, "Print a JSON summary on stdout (implies --quiet)");
  sub->add_flag("-q,--quiet", o.quiet, "No progress output");
  sub->add_flag("--force", o.force, "Overwrite an existing output folder");
  action = [] { return run_gptq(o); };
  return action;
}

Action& register_gptq_layer(CLI::App& app) {
  static Action action;
  static LayerOptions o;
  auto* sub = app.add_subcommand("gptq-layer", "Test entry: GPTQ on one matrix from raw float32 files");
  sub->group("");  // hidden from --help
  sub->add_option("--weights", o.weights, "W [rows x cols] float32")->required();
  sub->add_option("--inputs", o.inputs, "X [tokens x cols] float32")->required();
  sub->add_option("--rows", o.rows)->required();
  sub->add_option("--cols", o.cols)->required();
  sub->add_option("--samples", o.samples, "n in H = 2 X^T X / n");
  sub->add_option("--bits", o.settings.bits);
  sub->add_option("--group-size", o.settings.group_size);
  sub->add_flag("--act-order", o.settings.act_order);
  sub->add_flag("--sym", o.settings.sym);
  sub->add_option("--damp", o.settings.damp);
  sub->add_flag("--rtn", o.rtn);
  sub->add_option("-o,--out", o.out)->required();
  action = [] { return run_gptq_layer(o); };
  return action;
}

}  // namespace lmforge::cli
