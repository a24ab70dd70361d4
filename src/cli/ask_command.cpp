// `lmforge ask --db FILE.db QUESTION [-k 4] [--mode hybrid|vector|bm25] [--exact] [--retrieve-only]
// [--json] [-m CHAT_MODEL] [sampling flags]`: finds the chunks of an index that answer a question
// (BM25, cosine search (exact, or approximate on large indexes), or both fused) and either prints them or has a chat model answer from
// them (LangChain RetrievalQA's "stuff" prompt), streamed, followed by the sources.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/embedder_open.h"
#include "cli/lora_flags.h"
#include "cli/run_session.h"
#include "cli/sampling_flags.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "retrieval/search.h"
#include "retrieval/sqlite_index_store.h"
#include "retrieval/stuff_prompt.h"

namespace lmforge::cli {
namespace {

struct AskOptions {
  std::string db;
  std::string question;
  int64_t k = 4;
  std::string mode;  // empty: hybrid when the index has vectors, else bm25
  std::string embed_model;
  bool retrieve_only = false;
  bool json = false;
  bool exact = false;  // --exact: never the approximate index
  RunOptions run;  // -m CHAT_MODEL, -c, -t, -n, sampling
  std::vector<LoraRequest> embed_loras;  // --lora: of the embedding model, as `index` was given them
};

retrieval::SearchMode parse_mode(const std::string& s) {
  if (s == "hybrid") return retrieval::SearchMode::kHybrid;
  if (s == "vector") return retrieval::SearchMode::kVector;
  if (s == "bm25") return retrieval::SearchMode::kBm25;
  throw UsageError("--mode must be hybrid, vector or bm25, not '" + s + "'");
}

// "search": which vector search ran ("exact" or "approximate"), "none" in bm25 mode.
void print_chunks_json(const AskOptions& o, retrieval::SearchMode mode, std::string_view search,
                       const std::vector<retrieval::RetrievedChunk>& chunks) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : chunks) {
    list.push_back({{"rank", c.rank}, {"source", sanitize_utf8(c.source)}, {"start_line", c.start_line},
                    {"end_line", c.end_line}, {"score", c.score}, {"text", sanitize_utf8(c.text)}});
  }
  const nlohmann::json out = {{"question", sanitize_utf8(o.question)}, {"mode", retrieval::search_mode_name(mode)},
                              {"search", search}, {"chunks", list}};
  std::printf("%s\n", out.dump().c_str());
}

void print_chunks_text(const std::vector<retrieval::RetrievedChunk>& chunks) {
  for (const auto& c : chunks) {
    std::printf("[%zu] %s  (score %.4g)\n", c.rank, escaped_for_display(retrieval::source_label(c)).c_str(), c.score);
    // Line by line with control characters escaped: an indexed file must not be able to send
    // escape sequences to the terminal.
    std::string indented;
    size_t at = 0;
    while (at <= c.text.size()) {
      const size_t nl = std::min(c.text.find('\n', at), c.text.size());
      indented += "    " + escaped_for_display(std::string_view(c.text).substr(at, nl - at)) + "\n";
      at = nl + 1;
    }
    std::printf("%s\n", indented.c_str());
  }
}

// Streams the chat model's answer from the stuffed prompt, dropping the lowest-ranked chunks
// while the prompt does not fit the context; then the sources it was given.
int answer(const AskOptions& o, std::vector<retrieval::RetrievedChunk> chunks) {
  RunSession s = open_session(o.run);
  GenerationSession& session = s.generation;
  std::vector<int32_t> prompt = session.tokenize_prompt(retrieval::stuff_prompt(o.question, chunks));
  const size_t given = chunks.size();
  while (!session.prompt_fits(prompt.size()) && !chunks.empty()) {
    chunks.pop_back();
    prompt = session.tokenize_prompt(retrieval::stuff_prompt(o.question, chunks));
  }
  if (!session.prompt_fits(prompt.size())) {
    throw UsageError("the question alone makes a prompt of " + std::to_string(prompt.size()) +
                     " tokens, more than the context of " + std::to_string(session.n_ctx()) +
                     " holds; ask a shorter question or give a larger -c");
  }
  if (chunks.size() < given) {
    std::fprintf(stderr, "lmforge: note: %zu of the %zu chunks fit the context of %u tokens\n", chunks.size(), given,
                 session.n_ctx());
  }
  install_interrupt_handler();
  GenerationCallbacks callbacks;
  callbacks.cancelled = interrupted;
  callbacks.on_text = print_text;
  session.complete(prompt, generation_params(o.run), callbacks);
  std::printf("\n\nSources:\n");
  for (const auto& c : chunks) std::printf("  %s\n", escaped_for_display(retrieval::source_label(c)).c_str());
  std::fflush(stdout);
  print_timings(session.timings());
  return 0;
}

int run_ask(const AskOptions& o) {
  if (o.k < 1 || o.k > 1000) throw UsageError("-k must be between 1 and 1000");
  if (!o.retrieve_only && o.run.model.empty()) {
    throw UsageError("give a chat model with -m CHAT_MODEL for an answer, or --retrieve-only for the chunks");
  }
  if (o.json && !o.retrieve_only) throw UsageError("--json needs --retrieve-only");
  auto store = retrieval::open_sqlite_index(o.db, retrieval::IndexOpenMode::kRead);
  const auto settings = store->settings();
  if (!settings) fail(o.db, "the index is empty (no lmforge index was made here yet)");
  const retrieval::SearchMode mode = o.mode.empty() ? (settings->embedder ? retrieval::SearchMode::kHybrid
                                                                          : retrieval::SearchMode::kBm25)
                                                    : parse_mode(o.mode);
  std::unique_ptr<retrieval::Embedder> embedder;
  if (mode != retrieval::SearchMode::kBm25 && settings->embedder) {
    embedder = open_embedder(o.embed_model.empty() ? settings->embedder->spec : o.embed_model, o.embed_loras);
  }
  const std::string question = sanitize_utf8(o.question);
  retrieval::VectorSearchOptions vector_options = retrieval::vector_search_options_from_environment();
  vector_options.exact_only = o.exact;
  vector_options.threads = o.run.n_threads > 0 ? static_cast<unsigned>(o.run.n_threads)
                                               : std::max(1u, std::thread::hardware_concurrency());
  std::optional<retrieval::VectorSearchKind> search;
  retrieval::VectorSearchKind kind = retrieval::VectorSearchKind::kExact;
  auto chunks = retrieval::retrieve(*store, o.db, embedder.get(), question, mode, static_cast<size_t>(o.k),
                                    vector_options, &kind);
  if (mode != retrieval::SearchMode::kBm25) search = kind;
  if (o.retrieve_only) {
    if (o.json) {
      print_chunks_json(o, mode, search ? retrieval::vector_search_kind_name(*search) : "none", chunks);
    } else {
      print_chunks_text(chunks);
    }
    return 0;
  }
  return answer(o, std::move(chunks));
}

}  // namespace

Action& register_ask(CLI::App& app) {
  static Action action;
  static AskOptions o;
  o.run.n_threads = 0;  // the session's default: one thread per available core
  o.run.n_predict = 256;
  auto* sub = app.add_subcommand("ask", "Answer a question from an index made by `lmforge index`, with sources");
  sub->footer(
      "Retrieval: bm25 (SQLite FTS5, any text is a valid query), vector (exact cosine over every\n"
      "chunk's embedding), hybrid (reciprocal rank fusion of both, k = 60, each list 50 deep).\n"
      "Default: hybrid when the index has vectors, else bm25; vector and hybrid refuse a BM25-only\n"
      "index. The question is embedded with the index's own model (--embed-model to name it\n"
      "elsewhere). At LMFORGE_ANN_MIN_CHUNKS vectors and more (default 100000), vector search goes\n"
      "through an approximate HNSW index kept beside the database (DB.hnsw, built at the first\n"
      "such search with -t threads when `index` has not built it); --exact scans every vector.\n"
      "--retrieve-only --json prints {\"question\", \"mode\", \"search\" (exact, approximate, or\n"
      "none for bm25), \"chunks\": [{\"rank\", \"source\", \"start_line\", \"end_line\", \"score\",\n"
      "\"text\"}]}. --lora/--lora-scale adapt the embedding model (the adapters `index` was given;\n"
      "an index made with others is refused). Otherwise -m CHAT_MODEL\n"
      "answers from LangChain RetrievalQA's default \"stuff\" prompt, streamed, then the sources.\n"
      "Exit status: 0 done, 1 an index or model problem, 2 a usage problem.");
  sub->add_option("--db", o.db, "The index database file")->required();
  sub->add_option("question", o.question, "The question")->required();
  sub->add_option("-k", o.k, "Chunks to retrieve (default 4)");
  sub->add_option("--mode", o.mode, "hybrid, vector or bm25");
  sub->add_option("--embed-model", o.embed_model, "The index's embedding model, when not where the index recorded it");
  sub->add_flag("--retrieve-only", o.retrieve_only, "Print the chunks, no answer");
  sub->add_flag("--json", o.json, "With --retrieve-only: one JSON object");
  sub->add_flag("--exact", o.exact, "Exact vector search even where the approximate index would be used");
  sub->add_option("-m,--model", o.run.model, "Chat model (GGUF file or Hugging Face folder) for the answer");
  sub->add_option("-n,--n-predict", o.run.n_predict, "Answer tokens at most, -1: until EOS or the context is full (default 256)");
  sub->add_option("-c,--ctx-size", o.run.n_ctx, "Context size (default: the model's)");
  sub->add_option("-t,--threads", o.run.n_threads, "Threads (default: the number of cores)");
  add_sampling_flags(sub, o.run.sampling);
  static LoraFlags lora_flags;
  add_lora_flags(sub, lora_flags);
  action = [sub] {
    o.embed_loras = lora_requests(lora_flags, sub);
    return run_ask(o);
  };
  return action;
}

}  // namespace lmforge::cli
