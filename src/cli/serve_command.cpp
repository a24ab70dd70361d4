// `lmforge serve -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel 4] [-c CTX] [-t N]
//  [--api-key KEY | --api-key-file F] [--embed-model M] [--db FILE.db] [--alias NAME]
//  [--max-body BYTES] [--timeout S] [--queue N] [--max-connections N] [--chat-template NAME]`
//
// An OpenAI-compatible HTTP server (src/serve/): parses the flags, starts listening, loads the
// model, its chat format, the embedding model and the index, hands them to the server and
// serves until SIGINT/SIGTERM (exit 0).
//
// Exit status: 0 after a signal, 1 a model, index or address problem, 2 a usage problem.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/lora_flags.h"
#include "cli/embedder_open.h"
#include "core/error.h"
#include "engine/embedder.h"
#include "engine/kv_cache.h"
#include "engine/model_loader.h"
#include "generate/batch_scheduler.h"
#include "generate/chat_template.h"
#include "generate/special_tokens.h"
#include "retrieval/sqlite_index_store.h"
#include "serve/ask_service.h"
#include "serve/embedding_service.h"
#include "serve/responses.h"
#include "serve/server_runner.h"

namespace lmforge::cli {

namespace {

constexpr int64_t kMaxContext = int64_t{1} << 20;

struct ServeOptions {
  std::string model, host = "127.0.0.1", api_key, api_key_file, embed_model, db, alias, chat_template;
  std::vector<LoraRequest> loras;  // --lora / --lora-scale / --lora-scaled
  int64_t port = 8080, parallel = 4, n_threads = 0, max_body = int64_t{8} << 20, timeout = 30, queue = 64,
          max_connections = 128, batch = 512;
  std::optional<int64_t> n_ctx;
  bool quiet = false;
};

uint32_t available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<uint32_t>(CPU_COUNT(&set));
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

void check_range(const char* flag, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    throw UsageError(std::string(flag) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " + std::to_string(v));
}

std::string read_key_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, "cannot open the API key file");
  std::string key;
  std::getline(f, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) fail(path, "the API key file's first line is empty");
  return key;
}

// The name clients give as "model": --alias, else the model file's (or folder's) name.
std::string model_name(const std::string& path, const std::string& alias) {
  if (!alias.empty()) return alias;
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// LMFORGE_SERVE_TEST_LOAD_DELAY_MS (tests only): milliseconds to wait, after listening, before
// loading the model, so that a test can see /health answer 503 while loading even when the
// model loads in a few milliseconds. Capped at 60 s; anything but digits is ignored.
void delay_load_for_tests() {
  const char* v = std::getenv("LMFORGE_SERVE_TEST_LOAD_DELAY_MS");
  if (!v || !*v || std::strlen(v) > 9 || std::strspn(v, "0123456789") != std::strlen(v)) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(std::atol(v), 60000L)));
}

ChatFormat choose_format(const ServeOptions& o, const LoadedModel& m) {
  if (!o.chat_template.empty()) return *chat_format_from_name(o.chat_template);
  if (auto f = detect_chat_format(m.chat_template); f && !m.chat_template.empty()) return *f;
  std::fprintf(stderr, "lmforge serve: note: %s; using chatml (choose with --chat-template)\n",
               m.chat_template.empty() ? "the model has no chat template" : "the model's chat template is not one lmforge knows");
  return ChatFormat::kChatml;
}

int run_serve(ServeOptions o) {
  check_range("--port", o.port, 0, 65535);
  check_range("--parallel", o.parallel, 1, 256);
  check_range("--threads", o.n_threads, 0, 1024);
  check_range("--max-body", o.max_body, 1024, int64_t{1} << 30);
  check_range("--timeout", o.timeout, 1, 3600);
  check_range("--queue", o.queue, 0, 1 << 20);
  check_range("--max-connections", o.max_connections, 1, 65536);
  check_range("--batch", o.batch, 1, 1 << 16);
  if (o.n_ctx) check_range("-c/--ctx-size", *o.n_ctx, 2, kMaxContext);
  if (!o.api_key.empty() && !o.api_key_file.empty()) throw UsageError("give the key with --api-key or --api-key-file, not both");
  if (!o.chat_template.empty() && !chat_format_from_name(o.chat_template))
    throw UsageError("unknown --chat-template '" + o.chat_template + "' (known: " + chat_format_names() + ")");
  const std::string key = o.api_key_file.empty() ? o.api_key : read_key_file(o.api_key_file);

  serve::ServeState state;
  state.api_key = serve::ApiKeyCheck(key);
  state.limits.max_body = static_cast<size_t>(o.max_body);
  state.limits.request_timeout = std::chrono::seconds(o.timeout);
  state.limits.write_timeout = std::chrono::seconds(o.timeout);
  state.limits.idle_timeout = std::chrono::seconds(std::min<int64_t>(o.timeout, 5));
  state.limits.max_connections = static_cast<size_t>(o.max_connections);
  state.log_requests = !o.quiet;
  state.created = serve::unix_seconds_now();
  state.model_id = model_name(o.model, o.alias);

  serve::ServerRunner runner(state, state.limits);
  const int port = runner.start(o.host, static_cast<int>(o.port));
  std::fprintf(stderr, "lmforge serve: listening on http://%s:%d (model loading)\n", o.host.c_str(), port);
  std::fflush(stderr);

  delay_load_for_tests();
  LoadedModel loaded = load_model_for_inference(o.model);
  const LlamaConfig& c = loaded.model->config();
  const uint64_t n_ctx = o.n_ctx ? static_cast<uint64_t>(*o.n_ctx) : c.max_position_embeddings;
  if (n_ctx < 2 || n_ctx > static_cast<uint64_t>(kMaxContext)) throw UsageError("give each slot's context with -c (the model does not say its own)");
  const std::optional<uint64_t> kv = llama_kv_cache_bytes(c, static_cast<uint32_t>(n_ctx * static_cast<uint64_t>(o.parallel)));
  if (!kv) throw UsageError("--parallel " + std::to_string(o.parallel) + " slots of " + std::to_string(n_ctx) + " positions are too many for this model; use a smaller -c or --parallel");
  const Tokenizer& tokenizer = *loaded.tokenizer;

  BatchSchedulerOptions so;
  so.n_slots = static_cast<uint32_t>(o.parallel);
  so.n_ctx = static_cast<uint32_t>(n_ctx);
  so.n_threads = o.n_threads > 0 ? static_cast<uint32_t>(o.n_threads) : available_cores();
  so.n_batch = static_cast<uint32_t>(o.batch);
  so.max_queue = static_cast<uint32_t>(o.queue);
  so.loras = load_loras(o.loras, *loaded.model);
  BatchScheduler scheduler(*loaded.model, tokenizer, so);

  // Without --embed-model the served model embeds: the weights already loaded are shared (a
  // second load would double the resident weights: the interleaved and huge-page copies are
  // per load), and so are its --lora adapters, so that it embeds as it generates.
  EmbedderOptions served_embedding;
  for (const LoraRequest& l : o.loras) served_embedding.loras.push_back({l.path, l.scale});
  serve::EmbeddingService embeddings(
      o.embed_model.empty() ? Embedder::over_loaded_llama(*loaded.model, loaded.tokenizer, o.model, served_embedding)
                            : Embedder::open(o.embed_model),
      o.embed_model.empty() ? state.model_id : model_name(o.embed_model, ""), o.embed_model.empty());

  std::unique_ptr<serve::AskService> ask;
  if (!o.db.empty()) {
    auto store = retrieval::open_sqlite_index(o.db, retrieval::IndexOpenMode::kRead);
    const auto settings = store->settings();
    if (!settings) fail(o.db, "the index is empty (no lmforge index was made here yet)");
    std::unique_ptr<retrieval::Embedder> question_embedder;
    if (settings->embedder) question_embedder = open_embedder(settings->embedder->spec);
    const auto mode = settings->embedder ? retrieval::SearchMode::kHybrid : retrieval::SearchMode::kBm25;
    ask = std::make_unique<serve::AskService>(std::move(store), o.db, std::move(question_embedder), mode);
  }

  const ChatFormat format = choose_format(o, loaded);
  state.scheduler = &scheduler;
  state.tokenizer = &tokenizer;
  state.chat_format = format;
  if (o.chat_template.empty()) state.chat_default_system = chat_default_system(format, loaded.chat_template);
  state.chat_end_token = special_token_id(tokenizer, chat_end_marker(format));
  state.embeddings = &embeddings;
  state.ask = ask.get();
  state.ready = true;
  std::fprintf(stderr, "lmforge serve: model '%s' ready: %lld slots of %llu positions, chat format %s, %u threads\n",
               state.model_id.c_str(), static_cast<long long>(o.parallel), static_cast<unsigned long long>(n_ctx),
               std::string(chat_format_name(format)).c_str(), so.n_threads);
  std::fflush(stderr);

  runner.serve_until_stopped();
  state.ready = false;
  return 0;
}

}  // namespace

Action& register_serve(CLI::App& app) {
  static Action action;
  static ServeOptions o;
  auto* sub = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  sub->footer(
      "Endpoints: GET /health (open without the key), /v1/models, /metrics, /slots; POST /v1/chat/completions,\n"
      "/v1/completions, /v1/embeddings, /v1/ask (with --db), /tokenize, /detokenize.\n"
      "-c is the context of EACH slot: --parallel 4 -c 2048 allocates 4 x 2048 KV positions (llama-server\n"
      "divides its -c among its slots instead). A prompt that does not fit one slot with its max_tokens\n"
      "is refused (400), never cut. Without --embed-model the served model embeds (the same loaded weights).\n"
      "--timeout S bounds reading each request and each blocked write; idle keep-alive connections close\n"
      "after min(S, 5) seconds. SIGINT/SIGTERM cancel running requests and exit 0.\n"
      "Exit status: 0 after a signal, 1 a model, index or address problem, 2 a usage problem.");
  sub->add_option("-m,--model", o.model, "GGUF model file or Hugging Face folder")->required();
  sub->add_option("--host", o.host, "Address to listen on (default 127.0.0.1)");
  sub->add_option("--port", o.port, "Port (default 8080; 0: any free port, printed on stderr)");
  sub->add_option("--parallel", o.parallel, "Slots: requests generating at once (default 4)");
  sub->add_option("-c,--ctx-size", o.n_ctx, "Context of each slot, in positions (default: the model's)");
  sub->add_option("-t,--threads", o.n_threads, "Engine threads (default: the number of cores)");
  sub->add_option("--batch", o.batch, "Tokens per engine step at most (default 512)");
  sub->add_option("--api-key", o.api_key, "Require \"Authorization: Bearer KEY\" on every route but /health");
  sub->add_option("--api-key-file", o.api_key_file, "Read the API key from the first line of this file");
  sub->add_option("--embed-model", o.embed_model, "Embedding model for /v1/embeddings (default: the served model)");
  sub->add_option("--db", o.db, "Index made by `lmforge index`, answered by /v1/ask");
  sub->add_option("--alias", o.alias, "Model id clients use (default: the model file's name)");
  sub->add_option("--chat-template", o.chat_template, "Chat format: " + chat_format_names() + " (default: the model's, else chatml)");
  sub->add_option("--max-body", o.max_body, "Largest request body in bytes; more is 413 (default 8388608)");
  sub->add_option("--timeout", o.timeout, "Seconds to read one request / for one blocked write (default 30)");
  sub->add_option("--queue", o.queue, "Requests waiting for a slot at most; more are 503 (default 64)");
  sub->add_option("--max-connections", o.max_connections, "Connections served at once (default 128; beyond 64 more waiting: 503)");
  sub->add_flag("--quiet", o.quiet, "No log line per request");
  static LoraFlags lora_flags;
  add_lora_flags(sub, lora_flags);
  action = [sub] {
    o.loras = lora_requests(lora_flags, sub);
    return run_serve(o);
  };
  return action;
}

}  // namespace lmforge::cli
