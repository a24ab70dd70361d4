// Exact renderings of the four chat formats (the strings of llama.cpp's built-in renderer),
// multi-turn, with and without a system prompt; detection of a Jinja template by its markers.
#include <gtest/gtest.h>

#include <vector>

#include "generate/chat_template.h"

namespace lmforge {
namespace {

const std::vector<ChatMessage> kTwoTurns = {
    {"user", "Hi there"}, {"assistant", "Hello!"}, {"user", "How are you?"}};
const std::vector<ChatMessage> kWithSystem = {
    {"system", "Be brief."}, {"user", "Hi there"}, {"assistant", "Hello!"}, {"user", "How are you?"}};

TEST(ChatTemplate, ChatmlMultiTurn) {
  EXPECT_EQ(render_chat(ChatFormat::kChatml, kTwoTurns, true),
            "<|im_start|>user\nHi there<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\nHow are you?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatFormat::kChatml, kWithSystem, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi there<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\nHow are you?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatFormat::kChatml, std::vector<ChatMessage>{{"user", "x"}}, false), "<|im_start|>user\nx<|im_end|>\n");
}

TEST(ChatTemplate, Llama2MultiTurn) {
  EXPECT_EQ(render_chat(ChatFormat::kLlama2, kTwoTurns, true),
            "[INST] Hi there [/INST]Hello!</s>[INST] How are you? [/INST]");
  EXPECT_EQ(render_chat(ChatFormat::kLlama2, kWithSystem, true),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi there [/INST]Hello!</s>[INST] How are you? [/INST]");
  // No generation prompt: the model answers after " [/INST]" either way.
  EXPECT_EQ(render_chat(ChatFormat::kLlama2, kTwoTurns, false), render_chat(ChatFormat::kLlama2, kTwoTurns, true));
}

TEST(ChatTemplate, VicunaMultiTurn) {
  EXPECT_EQ(render_chat(ChatFormat::kVicuna, kTwoTurns, true),
            "USER: Hi there\nASSISTANT: Hello!</s>\nUSER: How are you?\nASSISTANT:");
  EXPECT_EQ(render_chat(ChatFormat::kVicuna, kWithSystem, true),
            "Be brief.\n\nUSER: Hi there\nASSISTANT: Hello!</s>\nUSER: How are you?\nASSISTANT:");
  EXPECT_EQ(render_chat(ChatFormat::kVicuna, kTwoTurns, false), "USER: Hi there\nASSISTANT: Hello!</s>\nUSER: How are you?\n");
}

TEST(ChatTemplate, Llama3MultiTurn) {
  EXPECT_EQ(render_chat(ChatFormat::kLlama3, kWithSystem, true),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // Contents are trimmed, as the Jinja template's `| trim` and llama.cpp's renderer do.
  EXPECT_EQ(render_chat(ChatFormat::kLlama3, std::vector<ChatMessage>{{"user", " \n x y\t\n"}}, false),
            "<|start_header_id|>user<|end_header_id|>\n\nx y<|eot_id|>");
}

// The interactive mode relies on this: a conversation's rendering (with its generation prompt)
// is a prefix of the rendering after one more exchange, so the cache never needs rewinding.
TEST(ChatTemplate, RenderingIsAppendOnly) {
  for (ChatFormat f : {ChatFormat::kVicuna, ChatFormat::kLlama2, ChatFormat::kChatml, ChatFormat::kLlama3}) {
    std::vector<ChatMessage> m = {{"system", "S"}, {"user", "a"}};
    const std::string before = render_chat(f, m, true);
    m.push_back({"assistant", "b"});
    m.push_back({"user", "c"});
    const std::string after = render_chat(f, m, true);
    EXPECT_EQ(after.compare(0, before.size(), before), 0) << chat_format_name(f);
  }
}

TEST(ChatTemplate, Names) {
  EXPECT_EQ(chat_format_from_name("chatml"), ChatFormat::kChatml);
  EXPECT_EQ(chat_format_from_name("llama2"), ChatFormat::kLlama2);
  EXPECT_EQ(chat_format_from_name("vicuna"), ChatFormat::kVicuna);
  EXPECT_FALSE(chat_format_from_name("ChatML"));
  EXPECT_FALSE(chat_format_from_name(""));
  EXPECT_EQ(chat_format_from_name("llama3"), ChatFormat::kLlama3);
  EXPECT_EQ(chat_format_names(), "vicuna, llama2, chatml, llama3");
  EXPECT_EQ(chat_end_marker(ChatFormat::kLlama3), "<|eot_id|>");
  EXPECT_EQ(chat_end_marker(ChatFormat::kChatml), "<|im_end|>");
  EXPECT_EQ(chat_end_marker(ChatFormat::kLlama2), "</s>");
}

TEST(ChatTemplate, DetectsByMarkers) {
  // Abbreviated forms of the Jinja templates these models ship.
  const char* chatml =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const char* llama2 =
      "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}"
      "{% endif %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}";
  const char* vicuna =
      "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'USER: ' + message['content'] + '\\n' }}"
      "{% elif message['role'] == 'assistant' %}{{ 'ASSISTANT: ' + message['content'] + eos_token + '\\n' }}{% endif %}{% endfor %}";
  EXPECT_EQ(detect_chat_format(chatml), ChatFormat::kChatml);
  EXPECT_EQ(detect_chat_format(llama2), ChatFormat::kLlama2);
  EXPECT_EQ(detect_chat_format(vicuna), ChatFormat::kVicuna);
  EXPECT_EQ(detect_chat_format("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}"), ChatFormat::kLlama3);
  // Unknown formats are not guessed: one Llama 3 marker alone, [INST] without <<SYS>> (Mistral), nothing.
  EXPECT_FALSE(detect_chat_format("{{ '<|start_header_id|>' + message['role'] }}"));
  EXPECT_FALSE(detect_chat_format("{{ '[INST] ' + message['content'] + ' [/INST]' }}"));
  EXPECT_FALSE(detect_chat_format(""));
  // A template naming chatml's marker anywhere is chatml, as in llama.cpp (checked first).
  EXPECT_EQ(detect_chat_format(std::string(vicuna) + "<|im_start|>"), ChatFormat::kChatml);
}

TEST(ChatTemplate, DefaultSystemFromALiteralOnly) {
  // Qwen2.5's template in short: a computed system turn, then the literal fallback.
  const std::string qwen =
      "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
      "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
      "{%- endif %}";
  EXPECT_EQ(chat_default_system(ChatFormat::kChatml, qwen), "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_EQ(chat_default_system(ChatFormat::kChatml, "{{'<|im_start|>system\nBe nice.<|im_end|>\n'}}"), "Be nice.");
  EXPECT_EQ(chat_default_system(ChatFormat::kLlama3, qwen), "");
  EXPECT_EQ(chat_default_system(ChatFormat::kChatml, "{{'<|im_start|>' + m['role'] + '\\n'}}"), "");
  EXPECT_EQ(chat_default_system(ChatFormat::kChatml, "'<|im_start|>system\\n{{ sys }}<|im_end|>'"), "");

  const std::vector<ChatMessage> user = {{"user", "hi"}};
  const auto with = with_default_system(user, "S");
  ASSERT_EQ(with.size(), 2u);
  EXPECT_EQ(with[0].role, "system");
  EXPECT_EQ(with[0].content, "S");
  const std::vector<ChatMessage> sys = {{"system", "mine"}, {"user", "hi"}};
  EXPECT_EQ(with_default_system(sys, "S").size(), 2u);
  EXPECT_EQ(with_default_system(user, "").size(), 1u);
}

}  // namespace
}  // namespace lmforge
