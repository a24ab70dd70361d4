// Chat templates as plain C++: the four conversation formats lmforge renders, byte for byte
// as llama.cpp's built-in renderer writes them, and recognition of a model's Jinja template
// by its markers. No Jinja is ever executed: a GGUF's `tokenizer.chat_template` is untrusted
// text, so it is only searched for substrings.
//
//   chatml  each message  <|im_start|>{role}\n{content}<|im_end|>\n
//           generation    <|im_start|>assistant\n
//   llama2  [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]{assistant}</s>[INST] {user} [/INST]
//           (the system block opens the first turn; no generation prompt: the model answers
//           after " [/INST]"; BOS comes from the tokenizer, not from the template)
//   vicuna  {system}\n\n  USER: {user}\n  ASSISTANT: {assistant}</s>\n
//           generation    ASSISTANT:
//   llama3  each message  <|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|>
//           generation    <|start_header_id|>assistant<|end_header_id|>\n\n
//           (BOS comes from the tokenizer; the content is stripped of surrounding whitespace,
//           as Llama 3's Jinja template does with `| trim`)
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmforge {

enum class ChatFormat { kVicuna, kLlama2, kChatml, kLlama3 };

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// "vicuna", "llama2", "chatml", "llama3".
std::string_view chat_format_name(ChatFormat f);
std::optional<ChatFormat> chat_format_from_name(std::string_view name);
// The accepted names, comma-separated, for usage messages.
std::string chat_format_names();

// The format a Jinja chat template writes, recognised by its markers the way llama.cpp
// guesses: "<|im_start|>" is chatml; "[INST]" together with "<<SYS>>" is llama2; "USER: " and
// "ASSISTANT: " is vicuna; "<|start_header_id|>" with "<|end_header_id|>" is llama3. nullopt when none matches (the caller falls back to chatml).
std::optional<ChatFormat> detect_chat_format(std::string_view jinja);

// The conversation as text. With `add_generation_prompt` the text ends where the assistant's
// next reply begins. Rendering is append-only: the rendering of a conversation is a prefix of
// the rendering of any longer conversation that starts with the same messages, which is what
// lets the interactive mode keep its KV cache and evaluate only the new part.
std::string render_chat(ChatFormat f, std::span<const ChatMessage> messages, bool add_generation_prompt);

// The system message a chatml template writes when a conversation does not open with one
// (Qwen2.5's "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."): the text
// of a literal '<|im_start|>system\n...<|im_end|>' in the template, found by substring search
// as the markers are (never executed). Empty for other formats and when there is none.
std::string chat_default_system(ChatFormat f, std::string_view jinja);

// `messages` with {"system", default_system} put first when default_system is not empty and
// the conversation does not already open with a system message.
std::vector<ChatMessage> with_default_system(std::span<const ChatMessage> messages, const std::string& default_system);

// The text that closes an assistant turn ("<|im_end|>" for chatml, "<|eot_id|>" for llama3,
// "</s>" otherwise): when the
// model emits it as one token, its reply is over.
std::string_view chat_end_marker(ChatFormat f);

}  // namespace lmforge
