// `lmforge index --db FILE.db [-m EMBED_MODEL] PATH... [--chunk-size 1000] [--chunk-overlap 200] [--vector-type f32|f16]
// [--rebuild] [--json] [-q] [-t N]`: brings a persistent index (SQLite: documents, chunks, BM25,
// vectors) up to date with text files and folders (see retrieval/indexer.h for what a run does),
// then writes the files vector search reads beside it: DB.vectors, and DB.hnsw (the approximate
// index) when the index holds LMFORGE_ANN_MIN_CHUNKS vectors or more.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/embedder_open.h"
#include "cli/lora_flags.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/text_checks.h"
#include "retrieval/indexer.h"
#include "retrieval/sqlite_index_store.h"

namespace lmforge::cli {
namespace {

struct IndexCommandOptions {
  std::string db;
  std::string model;
  std::vector<std::string> paths;
  size_t chunk_size = 1000;
  size_t chunk_overlap = 200;
  std::string vector_type;
  bool rebuild = false;
  bool json = false;
  bool quiet = false;
  int64_t threads = 0;  // for the approximate index; 0: one per core
  std::vector<LoraRequest> loras;  // of the embedding model
};

// A one-line bar on a terminal: files done of total, chunks, chunks per second.
class IndexProgressLine {
 public:
  explicit IndexProgressLine(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
  ~IndexProgressLine() { clear(); }

  void show(const retrieval::IndexProgress& p) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (shown_ && now - last_ < std::chrono::milliseconds(100) && p.files_done < p.files_total) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    constexpr int kWidth = 30;
    const double frac = p.files_total ? static_cast<double>(p.files_done) / static_cast<double>(p.files_total) : 1.0;
    std::string bar(static_cast<size_t>(frac * kWidth), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[2K[%s] files %zu/%zu  chunks %llu  %.1f chunks/s", bar.c_str(), p.files_done,
                 p.files_total, static_cast<unsigned long long>(p.chunks_done),
                 secs > 0 ? static_cast<double>(p.chunks_done) / secs : 0.0);
    std::fflush(stderr);
    shown_ = true;
  }

  void clear() {
    if (shown_) std::fputs("\r\033[2K", stderr);
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

// The files a search would otherwise build at its first question: DB.vectors, and the
// approximate index when the index is large enough for it (a bar on a terminal: it takes
// minutes at a million chunks).
void prepare_vector_search(retrieval::IndexStore& store, const IndexCommandOptions& o) {
  retrieval::VectorSearchOptions options = retrieval::vector_search_options_from_environment();
  options.threads = o.threads > 0 ? static_cast<unsigned>(o.threads) : std::max(1u, std::thread::hardware_concurrency());
  std::unique_ptr<Progress> bar;
  options.on_build_progress = [&](uint64_t done, uint64_t total) {
    if (o.quiet) return;
    if (!bar) {
      bar = std::make_unique<Progress>(total, o.quiet);
      if (::isatty(STDERR_FILENO)) {
        bar->log("building the approximate index (DB.hnsw) over " + std::to_string(total) + " vectors");
      }
    }
    bar->update(done);
  };
  store.prepare_vector_search(options);
  if (bar) bar->finish();
}

int run_index(const IndexCommandOptions& o, bool size_given, bool overlap_given) {
  if (o.threads < 0 || o.threads > 1024) throw UsageError("-t must be between 1 and 1024");
  if (o.model.empty() && !o.loras.empty()) throw UsageError("--lora adapts the embedding model: give it with -m");
  auto store = retrieval::open_sqlite_index(o.db, retrieval::IndexOpenMode::kUpdate);
  const auto existing = store->settings();
  // Without -m, an index that has a model keeps using it (reopened from what it recorded).
  std::string model = o.model;
  if (model.empty() && !o.rebuild && existing && existing->embedder) model = existing->embedder->spec;
  std::unique_ptr<retrieval::Embedder> embedder;
  if (!model.empty()) embedder = open_embedder(model, o.loras);

  retrieval::IndexOptions options;
  options.paths = o.paths;
  if (size_given || overlap_given) {
    // A flag not given keeps the index's value (or the default for a new index).
    retrieval::SplitterOptions s = existing && !o.rebuild ? existing->splitter : retrieval::SplitterOptions{};
    if (size_given) s.chunk_size = o.chunk_size;
    if (overlap_given) s.chunk_overlap = o.chunk_overlap;
    options.splitter = s;
  }
  options.rebuild = o.rebuild;
  if (o.vector_type == "f16") options.vector_type = retrieval::VectorType::kF16;
  if (o.vector_type == "f32") options.vector_type = retrieval::VectorType::kF32;
  IndexProgressLine bar(!o.quiet);
  const auto report = retrieval::update_index(*store, o.db, embedder.get(), options,
                                              [&](const retrieval::IndexProgress& p) { bar.show(p); });
  bar.clear();
  if (!o.quiet) {
    for (const auto& note : report.notes) std::fprintf(stderr, "lmforge: note: %s\n", note.c_str());
  }
  prepare_vector_search(*store, o);
  if (o.json) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : report.files) {
      files.push_back({{"path", sanitize_utf8(f.path)}, {"sha256", f.sha256}, {"chunks", f.chunks}, {"status", f.status}});
    }
    const nlohmann::json out = {{"files", files}, {"chunks_total", report.chunks_total}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  size_t counts[4] = {0, 0, 0, 0};
  for (const auto& f : report.files) {
    const int which = f.status == "added" ? 0 : f.status == "changed" ? 1 : f.status == "unchanged" ? 2 : 3;
    ++counts[which];
    if (which != 2) std::printf("%-9s %s (%llu chunks)\n", f.status.c_str(), escaped_for_display(f.path).c_str(),
                                static_cast<unsigned long long>(f.chunks));
  }
  std::printf("%zu added, %zu changed, %zu unchanged, %zu removed; %llu chunks in %s\n", counts[0], counts[1],
              counts[2], counts[3], static_cast<unsigned long long>(report.chunks_total),
              escaped_for_display(o.db).c_str());
  return 0;
}

}  // namespace

Action& register_index(CLI::App& app) {
  static Action action;
  static IndexCommandOptions o;
  auto* sub = app.add_subcommand("index", "Index text files for `lmforge ask` (SQLite: BM25 and vectors)");
  sub->footer(
      "Folders are walked for .txt and .md files; files named directly are read whatever their\n"
      "extension. Text is split as LangChain's RecursiveCharacterTextSplitter splits it (sizes in\n"
      "characters). A second run skips unchanged files (SHA-256), replaces changed ones and drops\n"
      "the documents of files gone from the given folders; each file is one transaction, so an\n"
      "interrupted run leaves whole files and the next run finishes. Without -m the index is BM25\n"
      "only; with -m it also stores one vector per chunk, and an index made with another model or\n"
      "other chunk settings is refused (exit 1, untouched) unless --rebuild. At the end, the vectors\n"
      "are written once more beside the database for search (DB.vectors), and from\n"
      "LMFORGE_ANN_MIN_CHUNKS vectors on (default 100000) an approximate HNSW index (DB.hnsw).\n"
      "EMBED_MODEL: hash:DIM (a model-free hashing embedder). --lora/--lora-scale adapt a LLaMA-family\n"
      "embedding model (as `run` takes them); `ask` must then name the same adapters.\n"
      "Exit status: 0 done, 1 a file or index problem, 2 a usage problem.");
  sub->add_option("--db", o.db, "The index database file (created when missing)")->required();
  sub->add_option("-m,--model", o.model, "Embedding model (default: the index's own; none: BM25 only)");
  sub->add_option("paths", o.paths, "Text files and folders")->required();
  sub->add_option("--vector-type", o.vector_type,
                  "How a new index stores its vectors: f32 (default) or f16 (half the size and the search time)")
      ->check(CLI::IsMember({"f32", "f16"}));
  static CLI::Option* size_flag = sub->add_option("--chunk-size", o.chunk_size, "Chunk size in characters (default 1000)");
  static CLI::Option* overlap_flag =
      sub->add_option("--chunk-overlap", o.chunk_overlap, "Characters shared by neighbouring chunks (default 200)");
  sub->add_flag("--rebuild", o.rebuild, "Start the index over with these settings");
  sub->add_flag("--json", o.json, "Print {\"files\": [...], \"chunks_total\"}");
  sub->add_flag("-q,--quiet", o.quiet, "No progress bar or notes");
  sub->add_option("-t,--threads", o.threads, "Threads to build the approximate index (default: the number of cores)");
  static LoraFlags lora_flags;
  add_lora_flags(sub, lora_flags);
  action = [sub] {
    o.loras = lora_requests(lora_flags, sub);
    return run_index(o, size_flag->count() > 0, overlap_flag->count() > 0);
  };
  return action;
}

}  // namespace lmforge::cli
