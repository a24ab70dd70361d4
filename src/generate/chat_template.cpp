#include "generate/chat_template.h"

namespace lmforge {

namespace {

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

std::string render_chatml(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Whitespace as C's isspace sees it, which llama.cpp's trim() uses (and Jinja's trim strips).
std::string_view trimmed(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string render_llama3(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages)
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + std::string(trimmed(m.content)) + "<|eot_id|>";
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// llama.cpp's "llama2-sys" rendering: one [INST] block per user turn, the system block inside
// the first one, each assistant reply closed by </s> and followed by a fresh "[INST] ".
std::string render_llama2(std::span<const ChatMessage> messages) {
  std::string out = "[INST] ";
  bool inside_turn = true;
  for (const auto& m : messages) {
    if (!inside_turn) {
      out += "[INST] ";
      inside_turn = true;
    }
    if (m.role == "system") {
      out += "<<SYS>>\n" + m.content + "\n<</SYS>>\n\n";
    } else if (m.role == "user") {
      out += m.content + " [/INST]";
    } else {
      out += m.content + "</s>";
      inside_turn = false;
    }
  }
  return out;
}

std::string render_vicuna(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) {
    if (m.role == "system")
      out += m.content + "\n\n";
    else if (m.role == "user")
      out += "USER: " + m.content + "\n";
    else
      out += "ASSISTANT: " + m.content + "</s>\n";
  }
  if (add_generation_prompt) out += "ASSISTANT:";
  return out;
}

}  // namespace

std::string_view chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::kVicuna: return "vicuna";
    case ChatFormat::kLlama2: return "llama2";
    case ChatFormat::kChatml: return "chatml";
    case ChatFormat::kLlama3: return "llama3";
  }
  return "chatml";
}

std::optional<ChatFormat> chat_format_from_name(std::string_view name) {
  for (ChatFormat f : {ChatFormat::kVicuna, ChatFormat::kLlama2, ChatFormat::kChatml, ChatFormat::kLlama3})
    if (chat_format_name(f) == name) return f;
  return std::nullopt;
}

std::string chat_format_names() { return "vicuna, llama2, chatml, llama3"; }

std::optional<ChatFormat> detect_chat_format(std::string_view jinja) {
  // Checked in llama.cpp's order, so a template that mentions several markers is read alike.
  if (contains(jinja, "<|im_start|>")) return ChatFormat::kChatml;
  if (contains(jinja, "[INST]") && contains(jinja, "<<SYS>>")) return ChatFormat::kLlama2;
  if (contains(jinja, "USER: ") && contains(jinja, "ASSISTANT: ")) return ChatFormat::kVicuna;
  if (contains(jinja, "<|start_header_id|>") && contains(jinja, "<|end_header_id|>")) return ChatFormat::kLlama3;
  return std::nullopt;
}

std::string render_chat(ChatFormat f, std::span<const ChatMessage> messages, bool add_generation_prompt) {
  switch (f) {
    case ChatFormat::kVicuna: return render_vicuna(messages, add_generation_prompt);
    case ChatFormat::kLlama2: return render_llama2(messages);  // the model answers after [/INST]
    case ChatFormat::kChatml: return render_chatml(messages, add_generation_prompt);
    case ChatFormat::kLlama3: return render_llama3(messages, add_generation_prompt);
  }
  return {};
}

std::string chat_default_system(ChatFormat f, std::string_view jinja) {
  if (f != ChatFormat::kChatml) return {};
  constexpr std::string_view kEnd = "<|im_end|>";
  // The newline as the template's string literal spells it (an escape) or as a raw newline.
  for (std::string_view open : {std::string_view("<|im_start|>system\\n"), std::string_view("<|im_start|>system\n")}) {
    for (size_t at = jinja.find(open); at != std::string_view::npos; at = jinja.find(open, at + 1)) {
      const size_t start = at + open.size();
      const size_t end = jinja.find(kEnd, start);
      if (end == std::string_view::npos) break;
      const std::string_view text = jinja.substr(start, end - start);
      // Only a plain literal: a quote, an escape or a Jinja delimiter means the system text is
      // computed (messages[0]['content'], a variable), not written out.
      if (!text.empty() && text.find_first_of("'\"\\{}") == std::string_view::npos) return std::string(text);
    }
  }
  return {};
}

std::vector<ChatMessage> with_default_system(std::span<const ChatMessage> messages, const std::string& default_system) {
  std::vector<ChatMessage> out;
  if (!default_system.empty() && (messages.empty() || messages.front().role != "system")) out.push_back({"system", default_system});
  out.insert(out.end(), messages.begin(), messages.end());
  return out;
}

std::string_view chat_end_marker(ChatFormat f) {
  switch (f) {
    case ChatFormat::kChatml: return "<|im_end|>";
    case ChatFormat::kLlama3: return "<|eot_id|>";
    default: return "</s>";
  }
}

}  // namespace lmforge
