// `lmforge embed -m MODEL (-p TEXT | -f FILE) [--lines] [--pooling mean|cls|last|none]
// [--no-normalize] [-t N] [--json] [--truncate] [--lora A [--lora-scale S]]`: embedding vectors
// of texts under a BERT-family folder or any LLaMA-family model lmforge runs (engine/embedder.h),
// the latter with LoRA adapters as `run` takes them (cli/lora_flags.h). Plain output is one line
// of space-separated floats per vector; --json prints {"model", "dim", "pooling", "embeddings"}.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/lora_flags.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "engine/embedder.h"

namespace lmforge::cli {

namespace {

std::string read_text(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto f = MappedFile::open(file);
  const auto b = f->bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// '\n'-separated lines; a final newline ends the last line rather than starting an empty one.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t nl = text.find('\n', begin);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(begin, nl - begin));
    begin = nl + 1;
  }
  return lines;
}

void write_out(const std::string& s) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) throw Error("<stdout>", "cannot write the output");
}

void append_vector(std::string& out, const float* v, size_t dim, const char* sep) {
  char num[32];
  for (size_t j = 0; j < dim; ++j) {
    std::snprintf(num, sizeof num, "%.9g", static_cast<double>(v[j]));
    if (j) out += sep;
    out += num;
  }
}

struct EmbedArgs {
  std::string model, prompt, file, pooling;
  bool lines = false, no_normalize = false, json = false, truncate = false;
  uint32_t threads = 0;
  std::vector<LoraRequest> loras;
};

int run_embed(const EmbedArgs& a, bool from_file) {
  EmbedderOptions o;
  o.n_threads = a.threads;
  o.normalize = !a.no_normalize;
  o.truncate = a.truncate;
  for (const LoraRequest& l : a.loras) o.loras.push_back({l.path, l.scale});
  if (!a.pooling.empty()) {
    o.pooling = pooling_from_name(a.pooling);
    if (!o.pooling) throw UsageError("embed: --pooling must be mean, cls, last or none, not '" + a.pooling + "'");
  }
  std::vector<std::string> texts, sources;
  const std::string text = from_file ? read_text(a.file) : a.prompt;
  const std::string where = from_file ? a.file : "the prompt";
  if (a.lines) {
    texts = split_lines(text);
    for (size_t i = 0; i < texts.size(); ++i) sources.push_back(where + " line " + std::to_string(i + 1));
  } else {
    texts.push_back(text);
    sources.push_back(where);
  }
  const auto embedder = Embedder::open(a.model, o);
  const EmbeddingModelInfo& info = embedder->info();
  const auto vectors = embedder->embed(texts, sources);
  const size_t dim = info.dim;

  std::string out;
  if (a.json) {
    out = "{\"model\":" + nlohmann::json(a.model).dump() + ",\"dim\":" + std::to_string(dim) + ",\"pooling\":\"" +
          pooling_name(info.pooling) + "\",\"embeddings\":[";
    for (size_t i = 0; i < vectors.size(); ++i) {
      if (i) out += ",";
      if (info.pooling == Pooling::None) {
        out += "[";
        for (size_t t = 0; t * dim < vectors[i].size(); ++t) {
          out += t ? ",[" : "[";
          append_vector(out, vectors[i].data() + t * dim, dim, ",");
          out += "]";
        }
        out += "]";
      } else {
        out += "[";
        append_vector(out, vectors[i].data(), dim, ",");
        out += "]";
      }
    }
    out += "]}\n";
  } else {
    for (const auto& v : vectors)
      for (size_t t = 0; t * dim < v.size(); ++t) {
        append_vector(out, v.data() + t * dim, dim, " ");
        out += "\n";
      }
  }
  write_out(out);
  return 0;
}

}  // namespace

Action& register_embed(CLI::App& app) {
  static Action action;
  static EmbedArgs a;
  auto* sub = app.add_subcommand("embed", "Embedding vectors of texts (BERT-family folders, LLaMA-family models)");
  sub->add_option("-m,--model", a.model, "BERT folder (config.json model_type bert), or any model lmforge runs")->required();
  auto* p = sub->add_option("-p,--prompt", a.prompt, "Text to embed");
  auto* f = sub->add_option("-f,--file", a.file, "File whose contents to embed ('-' for standard input)");
  sub->add_flag("--lines", a.lines, "One embedding per line of the text");
  sub->add_option("--pooling", a.pooling, "mean, cls, last or none (default: the model's; mean for LLaMA)");
  sub->add_flag("--no-normalize", a.no_normalize, "Do not L2-normalize the vectors");
  sub->add_option("-t,--threads", a.threads, "Threads (default: one per core)");
  sub->add_flag("--json", a.json, "Print {\"model\", \"dim\", \"pooling\", \"embeddings\": [[...], ...]}");
  sub->add_flag("--truncate", a.truncate, "Cut texts longer than the model takes instead of refusing them");
  static LoraFlags lora_flags;
  add_lora_flags(sub, lora_flags);
  action = [p, f, sub] {
    if ((p->count() == 0) == (f->count() == 0)) throw UsageError("embed: give the text with either -p TEXT or -f FILE");
    a.loras = lora_requests(lora_flags, sub);
    return run_embed(a, f->count() != 0);
  };
  return action;
}

}  // namespace lmforge::cli
