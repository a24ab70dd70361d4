// `lmforge run -m MODEL -p PROMPT [-n N] [-c CTX] [-t THREADS] [sampling flags] [--json [--probs K]]`
// `lmforge run -m MODEL -i [--chat-template NAME] [--system TEXT]`
//
// Streams the continuation of a prompt (or chats, with -i), then prints llama.cpp-style
// timings to stderr. MODEL is a GGUF file or a Hugging Face folder (converted in memory). Flags
// and defaults follow llama.cpp's. Ctrl-C stops generation and still prints the summary.
//
// Exit status: 0 done (also after Ctrl-C), 1 a file problem (model, -f), 2 a usage problem
// (bad flag value, a prompt longer than the context).
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/run_session.h"
#include "cli/sampling_flags.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "engine/llama_forward.h"
#include "generate/chat_template.h"
#include "generate/session.h"
#include "generate/timings.h"
#include "generate/token_probs.h"

namespace lmforge::cli {

namespace {

constexpr int64_t kMaxContext = int64_t{1} << 20;
constexpr int64_t kMaxThreads = 1024;
constexpr uint64_t kMaxPromptFileBytes = 64u << 20;

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  if (g_interrupted.exchange(true)) _exit(130);  // second Ctrl-C before the first was handled
}

uint32_t available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<uint32_t>(CPU_COUNT(&set));
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

// Memory the kernel says a new allocation can get without swapping (MemAvailable).
std::optional<uint64_t> available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  return std::nullopt;
}

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

std::string read_prompt_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxPromptFileBytes) {
    ::close(fd);
    fail(path, "is " + mib(static_cast<uint64_t>(st.st_size)) + ", more than the " + mib(kMaxPromptFileBytes) + " a prompt file may hold");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  if (auto bad = find_invalid_utf8(text)) fail(path, "is not valid UTF-8", *bad);
  return text;
}

void check_options(RunOptions& o) {
  if (o.n_threads <= 0 || o.n_threads > kMaxThreads)
    throw UsageError("-t/--threads must be between 1 and " + std::to_string(kMaxThreads) + ", not " + std::to_string(o.n_threads));
  if (o.n_predict < -1 || o.n_predict > kMaxContext)
    throw UsageError("-n/--n-predict must be between -1 (until end of text or context) and " + std::to_string(kMaxContext) + ", not " + std::to_string(o.n_predict));
  if (o.n_ctx && (*o.n_ctx <= 0 || *o.n_ctx > kMaxContext))
    throw UsageError("-c/--ctx-size must be between 1 and " + std::to_string(kMaxContext) + ", not " + std::to_string(*o.n_ctx));
  if (o.probs < 0) throw UsageError("--probs must be 1 or more, not " + std::to_string(o.probs));
  if (o.probs > 0 && !o.json) throw UsageError("--probs needs --json");
  if (o.interactive) {
    if (o.has_prompt || o.has_prompt_file)
      throw UsageError("-i takes the user's turns from standard input; -p/-f cannot be combined with it (use --system for a system prompt)");
    if (o.json) throw UsageError("--json cannot be combined with -i");
    if (!o.chat_template.empty() && !chat_format_from_name(o.chat_template))
      throw UsageError("unknown --chat-template " + quoted_for_message(o.chat_template) + " (known: " + chat_format_names() + ")");
    return;
  }
  if (!o.chat_template.empty() || !o.system.empty()) throw UsageError("--chat-template and --system need -i");
  if (o.has_prompt && o.has_prompt_file) throw UsageError("give the prompt with -p or -f, not both");
  if (o.has_prompt_file) o.prompt = read_prompt_file(o.prompt_file);
  else if (!is_valid_utf8(o.prompt)) throw UsageError("the -p prompt is not valid UTF-8");
}

// A --json --probs line's "top": [[id, p], ...].
nlohmann::json top_json(std::span<const float> logits, size_t k) {
  nlohmann::json top = nlohmann::json::array();
  for (const TokenProbability& t : top_probabilities(logits, k)) top.push_back({t.id, t.p});
  return top;
}

int run_generation(RunOptions o) {
  check_options(o);
  RunSession s = open_session(o);
  if (o.probs > static_cast<int64_t>(s.loaded.model->n_vocab()))
    throw UsageError("--probs " + std::to_string(o.probs) + " is more than the model's " + std::to_string(s.loaded.model->n_vocab()) + " tokens");
  install_interrupt_handler();
  if (o.interactive) return run_chat(o, s);

  GenerationSession& session = s.generation;
  const uint32_t n_ctx = session.n_ctx();
  std::vector<int32_t> prompt = session.tokenize_prompt(o.prompt);
  if (!session.prompt_fits(prompt.size())) {
    if (!o.truncate_prompt)
      throw UsageError("the prompt has " + std::to_string(prompt.size()) + " tokens but the context holds " + std::to_string(n_ctx) +
                       " (at most " + std::to_string(n_ctx - 1) + " for the prompt); use a larger -c or --truncate-prompt");
    const size_t original = prompt.size();
    const size_t dropped = session.truncate_prompt(prompt);
    std::fprintf(stderr, "lmforge: the prompt has %zu tokens; dropped the first %zu to fit the context of %u\n", original, dropped, n_ctx);
  }

  GenerationCallbacks callbacks;
  callbacks.cancelled = interrupted;
  callbacks.on_prompt = [&](std::string_view text, std::span<const int32_t> ids) {
    if (o.verbose_prompt) print_verbose_prompt(text, ids);
    if (!o.json && !o.no_display_prompt) {
      std::fputs(std::string(text).c_str(), stdout);
      std::fflush(stdout);
    }
  };
  if (o.json) {
    callbacks.on_token = [&](const TokenEvent& t) {
      // An EOS draw gets its own line only with --probs (its distribution is worth seeing).
      if (t.end_of_text && o.probs == 0) return;
      nlohmann::json j = {{"token", t.id}, {"piece", sanitize_utf8(t.piece)}};
      // "top": the distribution `token` was drawn from, i.e. softmax(raw logits) at this step.
      if (o.probs > 0) j["top"] = top_json(t.logits, static_cast<size_t>(o.probs));
      if (t.end_of_text) j["eos"] = true;
      std::printf("%s\n", j.dump().c_str());
      std::fflush(stdout);
    };
  } else {
    callbacks.on_text = print_text;
  }
  const GenerationResult r = session.complete(prompt, generation_params(o), callbacks);
  if (!o.json) std::fputs("\n", stdout);
  std::fflush(stdout);
  if (r.stop == StopReason::kContextFull) std::fprintf(stderr, "lmforge: stopped at the end of the context (%u tokens)\n", n_ctx);
  print_timings(session.timings());
  if (interrupted()) std::fprintf(stderr, "lmforge: interrupted\n");
  return 0;
}

}  // namespace

RunSession open_session(const RunOptions& o) {
  const auto t_load = GenerationClock::now();
  LoadedModel loaded = load_model_for_inference(o.model);
  const LlamaConfig& c = loaded.model->config();
  const uint64_t model_ctx = c.max_position_embeddings;
  const uint64_t n_ctx = o.n_ctx ? static_cast<uint64_t>(*o.n_ctx) : model_ctx;
  if (n_ctx == 0) throw UsageError("the model does not say its context length; give one with -c");
  if (n_ctx > static_cast<uint64_t>(kMaxContext))
    throw UsageError("the model's context length " + std::to_string(n_ctx) + " is more than lmforge supports (" + std::to_string(kMaxContext) + "); give a smaller -c");
  if (o.n_ctx && n_ctx > model_ctx && model_ctx > 0)
    std::fprintf(stderr, "lmforge: note: -c %llu is beyond the %llu positions the model was trained on\n",
                 static_cast<unsigned long long>(n_ctx), static_cast<unsigned long long>(model_ctx));
  // The KV cache is the context's big allocation: refuse one that cannot fit before allocating it.
  const std::optional<uint64_t> kv = llama_kv_cache_bytes(c, static_cast<uint32_t>(n_ctx));
  if (!kv) throw UsageError("a context of " + std::to_string(n_ctx) + " positions is too large for this model; use a smaller -c");
  const uint64_t kv_bytes = *kv;
  if (auto avail = available_memory_bytes(); avail && kv_bytes > *avail)
    throw UsageError("a context of " + std::to_string(n_ctx) + " positions needs " + mib(kv_bytes) + " for its KV cache, more than the " +
                     mib(*avail) + " of memory available; use a smaller -c");
  SessionOptions options;
  options.n_ctx = static_cast<uint32_t>(n_ctx);
  options.n_threads = static_cast<uint32_t>(o.n_threads);
  options.sampling = o.sampling;
  GenerationSession generation(*loaded.model, loaded.tokenizer, options);
  RunSession s{std::move(loaded), std::move(generation)};
  s.generation.timings().load_ms = ms_since(t_load);
  return s;
}

GenerationParams generation_params(const RunOptions& o) {
  GenerationParams p;
  p.n_predict = o.n_predict;
  p.ignore_eos = o.ignore_eos;
  return p;
}

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a read of stdin returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  g_interrupted = false;
}
bool interrupted() { return g_interrupted.load(); }
void clear_interrupt() { g_interrupted = false; }

void print_text(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void print_verbose_prompt(std::string_view text, std::span<const int32_t> ids) {
  std::fprintf(stderr, "lmforge: prompt text: %s\n", nlohmann::json(sanitize_utf8(text)).dump().c_str());
  std::fprintf(stderr, "lmforge: prompt tokens: %s\n", nlohmann::json(std::vector<int32_t>(ids.begin(), ids.end())).dump().c_str());
}

void print_timings(const Timings& t) { std::fputs(format_timings(t).c_str(), stderr); }

Action& register_run(CLI::App& app) {
  static Action action;
  static RunOptions o;
  o.n_threads = available_cores();
  auto* sub = app.add_subcommand("run", "Generate a continuation of a prompt, or chat with -i");
  sub->footer(
      "MODEL is a GGUF file or a Hugging Face llama folder (converted in memory, nothing written).\n"
      "--probs K (with --json) adds \"top\": [[id, p], ...] to each generated token's line: the K most\n"
      "likely tokens of the distribution the token was drawn from, p = softmax of the model's raw\n"
      "logits at that step, before penalties, top-k/p and temperature. An EOS draw gets its own line\n"
      "(\"eos\": true) when --probs is on.\n"
      "-i reads one user turn per line from standard input and answers with the chat template\n"
      "(--chat-template, else the model's when recognised, else chatml); it ends at EOF, at Ctrl-C at\n"
      "the prompt, or when the conversation fills the context. Ctrl-C during a reply ends the reply.\n"
      "Exit status: 0 done, 1 a model or prompt file problem, 2 a usage problem.");
  sub->add_option("-m,--model", o.model, "GGUF model file or Hugging Face folder")->required();
  static CLI::Option* prompt_flag = sub->add_option("-p,--prompt", o.prompt, "Prompt text");
  static CLI::Option* file_flag = sub->add_option("-f,--file", o.prompt_file, "Read the prompt from this UTF-8 file");
  sub->add_option("-n,--n-predict", o.n_predict, "Tokens to generate, -1: until EOS or the context is full (default 128)");
  sub->add_option("-c,--ctx-size", o.n_ctx, "Context size, 1 to 1048576 (default: the model's)");
  sub->add_option("-t,--threads", o.n_threads, "Threads (default: the number of cores, " + std::to_string(o.n_threads) + ")");
  sub->add_flag("--truncate-prompt", o.truncate_prompt, "Keep BOS and the last tokens of a prompt longer than the context");
  sub->add_flag("--no-display-prompt", o.no_display_prompt, "Do not echo the prompt before the continuation");
  sub->add_flag("--verbose-prompt", o.verbose_prompt, "Print the text and token ids fed to the model on stderr");
  sub->add_flag("-i,--interactive", o.interactive, "Chat: one user turn per line of standard input");
  sub->add_option("--chat-template", o.chat_template, "Chat format for -i: " + chat_format_names());
  sub->add_option("--system", o.system, "System prompt for -i");
  add_sampling_flags(sub, o.sampling);
  sub->add_flag("--ignore-eos", o.ignore_eos, "Never draw EOS (generate until -n, the context's end or Ctrl-C)");
  sub->add_flag("--json", o.json, "One JSON object per generated token instead of text");
  sub->add_option("--probs", o.probs, "With --json: the K most likely next tokens and their probabilities per token");
  action = [] {
    o.has_prompt = prompt_flag->count() > 0;
    o.has_prompt_file = file_flag->count() > 0;
    if (!o.has_prompt && !o.has_prompt_file && !o.interactive) throw UsageError("give a prompt with -p or -f, or chat with -i");
    return run_generation(o);
  };
  return action;
}

}  // namespace lmforge::cli
