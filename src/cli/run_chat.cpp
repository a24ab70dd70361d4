// `lmforge run -i`: a chat REPL. Each line of standard input is one user turn, answered by
// generate/'s ChatSession (chat template, KV cache kept between turns) until EOS, the
// template's end marker, -n tokens or Ctrl-C. When the next turn does not fit the context the
// chat ends with a note.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_session.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "generate/chat_session.h"
#include "generate/chat_template.h"

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
  GenerationSession& session = s.generation;
  const ChatFormat format = choose_format(o, s.loaded);
  // Without --system, the system message the model's own template writes (Qwen2.5's), if any.
  const std::string system = !o.system.empty() || !o.chat_template.empty() ? o.system : chat_default_system(format, s.loaded.chat_template);
  ChatSession chat(session, format, system);
  const uint32_t n_ctx = session.n_ctx();
  const bool terminal = ::isatty(STDIN_FILENO) != 0;
  const GenerationParams params = generation_params(o);
  GenerationCallbacks callbacks;
  callbacks.cancelled = interrupted;
  callbacks.on_text = print_text;
  if (o.verbose_prompt) callbacks.on_prompt = print_verbose_prompt;

  LineReader input;
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
    const uint32_t pos_before = session.pos();
    const ChatTurn turn = chat.answer(*line, params, callbacks);
    if (turn.reply.stop == StopReason::kPromptTooLong) {
      std::fprintf(stderr, "lmforge: this turn needs %zu more positions and the context has %u of %u left; ending the chat (use a larger -c)\n",
                   turn.fed.size() + 1, n_ctx - pos_before, n_ctx);
      break;
    }
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (o.verbose_prompt)
      std::fprintf(stderr, "lmforge: reply tokens: %s\n", nlohmann::json(turn.reply.tokens).dump().c_str());
    if (turn.reply.stop == StopReason::kContextFull) {
      std::fprintf(stderr, "lmforge: the conversation has filled the context (%u positions); ending the chat (use a larger -c)\n", n_ctx);
      break;
    }
  }
  print_timings(session.timings());
  return 0;
}

}  // namespace lmforge::cli
