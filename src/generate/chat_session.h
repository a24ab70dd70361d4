// A conversation on a GenerationSession: each user message is rendered with a chat template
// (generate/chat_template.h) and answered, with the KV cache kept between turns.
//
// Only the new part of the rendered conversation is evaluated each turn: the reply's own
// tokens are already in the cache, so a turn feeds the rendered text that follows the reply
// (the end-of-turn marker, the new user message, the generation prompt). Templates render
// append-only, so the cache always holds the conversation as the template writes it, with each
// reply as the model's tokens. A turn that does not fit the context is refused whole (dropping
// old turns would change what the cached positions mean). A reply cut by a stop string keeps
// all of its tokens in the cache and in the history (as the cache holds them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "generate/chat_template.h"
#include "generate/session.h"

namespace lmforge {

struct ChatTurn {
  GenerationResult reply;       // kPromptTooLong: the turn was not fed, the conversation is unchanged
  std::vector<int32_t> fed;     // the tokens this turn fed before the reply (BOS first on the first turn)
};

class ChatSession {
 public:
  // Starts a conversation from an empty cache; `system` (when not empty) opens it.
  ChatSession(GenerationSession& session, ChatFormat format, std::string system = {});

  // Answers one user message. The reply ends at EOS, at the template's end marker, at the
  // limits of `params`, or when `callbacks.cancelled` says so; the end marker is added to the
  // stop tokens here.
  ChatTurn answer(std::string user_message, const GenerationParams& params, const GenerationCallbacks& callbacks);

  ChatFormat format() const { return format_; }
  const std::vector<ChatMessage>& messages() const { return messages_; }

 private:
  GenerationSession& session_;
  ChatFormat format_;
  int32_t end_marker_;  // the id of the template's end-of-turn text, -1 when it is not one token
  std::vector<ChatMessage> messages_;
  size_t fed_chars_ = 0;  // how much of the current rendering is in the KV cache
  bool first_turn_ = true;
};

}  // namespace lmforge
