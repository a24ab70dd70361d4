// `lmforge run -i`: a chat REPL. Each line of standard input is one user turn; the conversation
// is rendered with a chat template (src/generate/) and the model answers until EOS, the template's
// end marker, -n tokens or Ctrl-C.
//
// The KV cache is kept between turns and only the new part of the rendered conversation is
// evaluated: the reply's own tokens are already in the cache, so each turn feeds the rendered
// text that follows the reply (the end-of-turn marker, the new user message, the generation
// prompt). Templates render append-only (chat_template.h), so the cache always holds the
// conversation as the template writes it, with the reply as the model's tokens.
// When the next turn does not fit the context the chat ends with a note (nothing is dropped:
// dropping old turns would change what the cached positions mean).
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "generate/chat_template.h"
#include "generate/special_tokens.h"
#include "cli/run_session.h"
#include "core/error.h"
#include "core/text_checks.h"

namespace lmforge::cli {

namespace {

constexpr size_t kMaxLineBytes = 1u << 20;

// Lines of standard input read with read(2), so that Ctrl-C (EINTR) ends the wait.
class LineReader {
 public:
  // The next line without its newline; nullopt at EOF or on Ctrl-C.
  std::optional<std::string> next() {
    while (true) {
      const size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (eof_) {
        if (buf_.empty()) return std::nullopt;
        std::string line;
        line.swap(buf_);
        return line;
      }
      if (buf_.size() > kMaxLineBytes) throw UsageError("a line of standard input is longer than 1 MiB");
      // Ctrl-C can land after the prompt is printed but before read() blocks; read() would then
      // wait for a line forever. Waiting in short polls and checking the flag closes that gap.
      if (interrupted()) return std::nullopt;
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      const int ready = ::poll(&pfd, 1, 100);
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      char chunk[4096];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) {
        if (interrupted()) return std::nullopt;
        continue;
      }
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  std::string buf_;
  bool eof_ = false;
};

ChatFormat choose_format(const RunOptions& o, const LoadedModel& m) {
  if (!o.chat_template.empty()) return *chat_format_from_name(o.chat_template);
  if (m.chat_template.empty()) {
    std::fprintf(stderr, "lmforge: note: the model has no chat template; using chatml (choose with --chat-template)\n");
    return ChatFormat::kChatml;
  }
  if (auto f = detect_chat_format(m.chat_template)) {
    std::fprintf(stderr, "lmforge: chat template: %s (recognised from the model's)\n", std::string(chat_format_name(*f)).c_str());
    return *f;
  }
  std::fprintf(stderr, "lmforge: note: the model's chat template is not one lmforge knows (%s); using chatml (choose with --chat-template)\n",
               chat_format_names().c_str());
  return ChatFormat::kChatml;
}

}  // namespace

int run_chat(const RunOptions& o, RunSession& s) {
  const ChatFormat format = choose_format(o, s.loaded);
  const SpmTokenizer& tok = *s.tok;
  LlamaContext& ctx = *s.ctx;
  Sampler& sampler = *s.sampler;
  Timings& tm = s.timings;
  const uint32_t n_ctx = ctx.n_ctx();
  const int32_t eos = tok.vocab().eos_id;
  const int32_t end_marker = special_token_id(tok, chat_end_marker(format));
  const bool terminal = ::isatty(STDIN_FILENO) != 0;

  std::vector<ChatMessage> messages;
  if (!o.system.empty()) messages.push_back({"system", o.system});
  size_t fed_chars = 0;  // how much of the current rendering is in the KV cache
  LineReader input;
  bool first_turn = true;
  while (true) {
    // Cleared before the prompt appears: a Ctrl-C typed once it is visible must end the chat.
    clear_interrupt();
    if (terminal) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    const std::optional<std::string> line = input.next();
    if (!line) break;  // EOF or Ctrl-C at the prompt
    if (line->empty()) continue;
    if (!is_valid_utf8(*line)) {
      std::fprintf(stderr, "lmforge: that line is not valid UTF-8; ignored\n");
      continue;
    }
    messages.push_back({"user", *line});
    const std::string rendered = render_chat(format, messages, true);
    const std::string_view delta = std::string_view(rendered).substr(fed_chars);
    std::vector<int32_t> feed;
    if (first_turn && tok.vocab().add_bos && tok.vocab().bos_id >= 0) feed.push_back(tok.vocab().bos_id);
    const auto text_ids = tokenize_with_specials(tok, delta);
    feed.insert(feed.end(), text_ids.begin(), text_ids.end());
    if (uint64_t{ctx.pos()} + feed.size() >= n_ctx) {
      std::fprintf(stderr, "lmforge: this turn needs %zu more positions and the context has %u of %u left; ending the chat (use a larger -c)\n",
                   feed.size() + 1, n_ctx - ctx.pos(), n_ctx);
      break;
    }
    if (o.verbose_prompt) print_verbose_prompt(delta, feed);
    for (int32_t t : feed) sampler.accept(t);
    const auto t_prompt = Clock::now();
    std::vector<float> logits = ctx.eval(feed);
    tm.prompt_ms += ms_since(t_prompt);
    tm.prompt_tokens += feed.size();
    first_turn = false;

    // The reply: every printed token is also evaluated, so the cache holds the reply exactly.
    std::string reply;  // raw text of the reply's tokens, as the template will render it
    std::vector<int32_t> reply_ids;
    TextStreamer streamer(tok, feed.back());
    int64_t generated = 0;
    bool context_full = false;
    while (!interrupted() && (o.n_predict < 0 || generated < o.n_predict)) {
      const auto t_sample = Clock::now();
      const int32_t next = sample_next(s, o, logits);
      tm.sample_ms += ms_since(t_sample);
      ++tm.sampled;
      if (next == eos || next == end_marker) break;
      if (ctx.pos() >= n_ctx) {
        context_full = true;
        break;
      }
      sampler.accept(next);
      streamer.push(next);
      std::fflush(stdout);
      reply += tok.token_text(next);
      reply_ids.push_back(next);
      ++generated;
      const auto t_eval = Clock::now();
      logits = ctx.eval(std::span<const int32_t>(&next, 1));
      tm.eval_ms += ms_since(t_eval);
      ++tm.evals;
    }
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (o.verbose_prompt)
      std::fprintf(stderr, "lmforge: reply tokens: %s\n", nlohmann::json(reply_ids).dump().c_str());
    // The next rendering continues right after the reply's text: find it after the generation
    // prompt (vicuna's "ASSISTANT:" renders as "ASSISTANT: " + content in the history).
    messages.push_back({"assistant", reply});
    const std::string with_reply = render_chat(format, messages, false);
    const size_t at = with_reply.find(reply, rendered.size());
    fed_chars = (at == std::string::npos ? rendered.size() : at + reply.size());
    if (context_full) {
      std::fprintf(stderr, "lmforge: the conversation has filled the context (%u positions); ending the chat (use a larger -c)\n", n_ctx);
      break;
    }
  }
  tm.print();
  return 0;
}

}  // namespace lmforge::cli
