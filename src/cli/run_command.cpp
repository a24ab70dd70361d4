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

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "generate/chat_template.h"
#include "cli/commands.h"
#include "cli/run_session.h"
#include "core/error.h"
#include "core/text_checks.h"

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

// The K most likely next tokens (ties: lower id first) and their probabilities, the softmax of
// the raw logits computed in double. This is the model's distribution before any sampler
// stage (penalties, top-k/p, temperature) transforms it.
nlohmann::json top_probabilities(std::span<const float> logits, size_t k) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  k = std::min(k, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] != logits[static_cast<size_t>(b)] ? logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] : a < b;
  });
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < k; ++i) {
    const double p = std::exp(static_cast<double>(logits[static_cast<size_t>(ids[i])]) - max) / sum;
    top.push_back({ids[i], p});
  }
  return top;
}

int run_generation(RunOptions o) {
  check_options(o);
  RunSession s = open_session(o);
  if (o.probs > static_cast<int64_t>(s.loaded.model->n_vocab()))
    throw UsageError("--probs " + std::to_string(o.probs) + " is more than the model's " + std::to_string(s.loaded.model->n_vocab()) + " tokens");
  install_interrupt_handler();
  if (o.interactive) return run_chat(o, s);

  SpmTokenizer& tok = *s.tok;
  LlamaContext& ctx = *s.ctx;
  const uint32_t n_ctx = ctx.n_ctx();
  std::vector<int32_t> prompt = tok.encode(o.prompt, tok.vocab().add_bos, false);
  if (prompt.empty()) throw UsageError("the prompt is empty and the model adds no BOS token");
  // At least one position must stay free for the first generated token.
  if (prompt.size() >= n_ctx) {
    if (!o.truncate_prompt)
      throw UsageError("the prompt has " + std::to_string(prompt.size()) + " tokens but the context holds " + std::to_string(n_ctx) +
                       " (at most " + std::to_string(n_ctx - 1) + " for the prompt); use a larger -c or --truncate-prompt");
    // Keep BOS and the most recent tokens: the end of a prompt is what the continuation follows.
    const bool bos = tok.vocab().add_bos && prompt.front() == tok.vocab().bos_id;
    const size_t keep = n_ctx - 1 - (bos ? 1 : 0);
    const size_t dropped = prompt.size() - (bos ? 1 : 0) - keep;
    std::vector<int32_t> kept;
    if (bos) kept.push_back(prompt.front());
    kept.insert(kept.end(), prompt.end() - static_cast<ptrdiff_t>(keep), prompt.end());
    std::fprintf(stderr, "lmforge: the prompt has %zu tokens; dropped the first %zu to fit the context of %u\n", prompt.size(), dropped, n_ctx);
    prompt = std::move(kept);
  }
  if (o.verbose_prompt) print_verbose_prompt(tok.decode(prompt), prompt);

  Sampler& sampler = *s.sampler;
  for (int32_t t : prompt) sampler.accept(t);
  if (!o.json && !o.no_display_prompt) {
    std::fputs(tok.decode(prompt).c_str(), stdout);
    std::fflush(stdout);
  }
  Timings& tm = s.timings;
  const auto t_prompt = Clock::now();
  std::vector<float> logits = ctx.eval(prompt);
  tm.prompt_ms = ms_since(t_prompt);
  tm.prompt_tokens = prompt.size();

  TextStreamer streamer(tok, prompt.back());
  const int32_t eos = tok.vocab().eos_id;
  size_t generated = 0;
  bool context_full = false;
  const auto want_more = [&] { return o.n_predict < 0 || generated < static_cast<uint64_t>(o.n_predict); };
  while (want_more() && !interrupted()) {
    const auto t_sample = Clock::now();
    const int32_t next = sample_next(s, o, logits);
    tm.sample_ms += ms_since(t_sample);
    ++tm.sampled;
    if (o.json) {
      nlohmann::json j = {{"token", next}, {"piece", sanitize_utf8(tok.token_text(next))}};
      // "top": the distribution `token` was drawn from, i.e. softmax(raw logits) at this step.
      if (o.probs > 0) j["top"] = top_probabilities(logits, static_cast<size_t>(o.probs));
      if (next == eos) j["eos"] = true;
      if (next != eos || o.probs > 0) std::printf("%s\n", j.dump().c_str());
    }
    if (next == eos) break;
    sampler.accept(next);
    ++generated;
    if (!o.json) streamer.push(next);
    std::fflush(stdout);
    if (!want_more()) break;
    if (ctx.pos() >= n_ctx) {
      context_full = true;
      break;
    }
    const auto t_eval = Clock::now();
    logits = ctx.eval(std::span<const int32_t>(&next, 1));
    tm.eval_ms += ms_since(t_eval);
    ++tm.evals;
  }
  if (!o.json) std::fputs("\n", stdout);
  std::fflush(stdout);
  if (context_full) std::fprintf(stderr, "lmforge: stopped at the end of the context (%u tokens)\n", n_ctx);
  tm.print();
  if (interrupted()) std::fprintf(stderr, "lmforge: interrupted\n");
  return 0;
}

}  // namespace

void Timings::print() const {
  const auto line = [](const char* what, double ms, size_t n) {
    std::fprintf(stderr, "lmforge: %-12s = %10.2f ms / %5zu tokens (%8.2f ms per token, %8.2f tokens per second)\n", what, ms, n,
                 n ? ms / static_cast<double>(n) : 0.0, ms > 0 ? 1000.0 * static_cast<double>(n) / ms : 0.0);
  };
  std::fprintf(stderr, "\n");
  std::fprintf(stderr, "lmforge: %-12s = %10.2f ms\n", "load time", load_ms);
  line("sampling", sample_ms, sampled);
  line("prompt eval", prompt_ms, prompt_tokens);
  line("eval", eval_ms, evals);
}

RunSession open_session(const RunOptions& o) {
  RunSession s;
  const auto t_load = Clock::now();
  s.loaded = load_model_for_inference(o.model);
  const LlamaConfig& c = s.loaded.model->config();
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
  s.tok = std::make_unique<SpmTokenizer>(s.loaded.vocab);
  s.ctx = std::make_unique<LlamaContext>(*s.loaded.model, static_cast<uint32_t>(n_ctx), static_cast<uint32_t>(o.n_threads));
  s.sampler = std::make_unique<Sampler>(o.sampling);
  s.timings.load_ms = ms_since(t_load);
  return s;
}

int32_t sample_next(RunSession& s, const RunOptions& o, std::vector<float>& logits) {
  const int32_t eos = s.tok->vocab().eos_id;
  if (!o.ignore_eos || eos < 0 || static_cast<size_t>(eos) >= logits.size()) return s.sampler->sample(logits);
  const float saved = logits[static_cast<size_t>(eos)];
  logits[static_cast<size_t>(eos)] = -std::numeric_limits<float>::infinity();
  const int32_t next = s.sampler->sample(logits);
  logits[static_cast<size_t>(eos)] = saved;
  return next;
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

void TextStreamer::push(int32_t id) {
  ids_.push_back(id);
  const std::string text = tok_.decode(ids_);
  if (text.size() < base_.size() || text.compare(0, base_.size(), base_) != 0) return;
  const std::string_view gained = std::string_view(text).substr(base_.size());
  // Print only when what was printed stays a prefix and no UTF-8 sequence is left unfinished.
  if (gained.size() < printed_.size() || gained.compare(0, printed_.size(), printed_) != 0) return;
  if (gained.size() >= 3 && gained.compare(gained.size() - 3, 3, "\xEF\xBF\xBD") == 0) return;
  std::fwrite(gained.data() + printed_.size(), 1, gained.size() - printed_.size(), stdout);
  printed_ = gained;
}

void print_verbose_prompt(std::string_view text, std::span<const int32_t> ids) {
  std::fprintf(stderr, "lmforge: prompt text: %s\n", nlohmann::json(sanitize_utf8(text)).dump().c_str());
  std::fprintf(stderr, "lmforge: prompt tokens: %s\n", nlohmann::json(std::vector<int32_t>(ids.begin(), ids.end())).dump().c_str());
}

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
  auto& s = o.sampling;
  sub->add_option("--temp", s.temperature, "Temperature; <= 0 is greedy (default 0.8)");
  sub->add_option("--top-k", s.top_k, "Top-k, <= 0 off (default 40)");
  sub->add_option("--top-p", s.top_p, "Top-p, 1 off (default 0.95)");
  sub->add_option("--min-p", s.min_p, "Min-p, 0 off (default 0.05)");
  sub->add_option("--typical", s.typical_p, "Typical-p, 1 off (default 1)");
  sub->add_option("--repeat-penalty", s.repeat_penalty, "Repeat penalty, 1 off (default 1)");
  sub->add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back over (default 64)");
  sub->add_option("--presence-penalty", s.presence_penalty, "Presence penalty (default 0)");
  sub->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty (default 0)");
  sub->add_option("--mirostat", s.mirostat, "Mirostat 0 off, 1, 2 (default 0)")->check(CLI::Range(0, 2));
  sub->add_option("--mirostat-lr", s.mirostat_eta, "Mirostat learning rate eta (default 0.1)");
  sub->add_option("--mirostat-ent", s.mirostat_tau, "Mirostat target entropy tau (default 5)");
  sub->add_option("-s,--seed", s.seed, "RNG seed (default: random)");
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
