#include "generate/chat_session.h"

#include <utility>

#include "generate/special_tokens.h"

namespace lmforge {

ChatSession::ChatSession(GenerationSession& session, ChatFormat format, std::string system)
    : session_(session), format_(format), end_marker_(special_token_id(session.tokenizer(), chat_end_marker(format))) {
  session_.reset();
  if (!system.empty()) messages_.push_back({"system", std::move(system)});
}

ChatTurn ChatSession::answer(std::string user_message, const GenerationParams& params, const GenerationCallbacks& callbacks) {
  const Tokenizer& tok = session_.tokenizer();
  messages_.push_back({"user", std::move(user_message)});
  const std::string rendered = render_chat(format_, messages_, true);
  const std::string_view delta = std::string_view(rendered).substr(fed_chars_);
  ChatTurn turn;
  if (first_turn_ && tok.add_bos() && tok.bos_id() >= 0) turn.fed.push_back(tok.bos_id());
  const std::vector<int32_t> text_ids = tokenize_with_specials(tok, delta);
  turn.fed.insert(turn.fed.end(), text_ids.begin(), text_ids.end());

  GenerationParams reply_params = params;
  if (end_marker_ >= 0) reply_params.stop_tokens.push_back(end_marker_);
  turn.reply = session_.extend(turn.fed, delta, reply_params, callbacks);
  if (turn.reply.stop == StopReason::kPromptTooLong) {
    messages_.pop_back();
    return turn;
  }
  first_turn_ = false;

  // The reply as the template will render it: the raw text of its tokens. The next rendering
  // continues right after it; it is found after the generation prompt (vicuna's "ASSISTANT:"
  // renders as "ASSISTANT: " + content in the history).
  std::string reply;
  for (int32_t id : turn.reply.tokens) reply += tok.token_text(id);
  messages_.push_back({"assistant", reply});
  const std::string with_reply = render_chat(format_, messages_, false);
  const size_t at = with_reply.find(reply, rendered.size());
  fed_chars_ = (at == std::string::npos ? rendered.size() : at + reply.size());
  return turn;
}

}  // namespace lmforge
