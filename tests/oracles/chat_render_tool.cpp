// lmforge's chat rendering for oracle.variants: reads a JSON request file
//   {"template": "<the model's Jinja text>",
//    "conversations": [{"messages": [{"role", "content"}...], "add_generation_prompt": bool}...]}
// and prints {"format": the name detect_chat_format gives the template (null when none),
// "renderings": [render_chat(format, messages, add_generation_prompt)...]} on stdout (the
// messages with the template's default system message first when they have none), so the
// check can hold them to the same conversations rendered by @huggingface/jinja.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "generate/chat_template.h"

int main(int argc, char** argv) {
  using nlohmann::json;
  if (argc != 2) {
    std::cerr << "usage: chat_render_tool REQUEST.json\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    std::cerr << "chat_render_tool: cannot read " << argv[1] << "\n";
    return 2;
  }
  try {
    const json request = json::parse(text.str());
    const auto format = lmforge::detect_chat_format(request.at("template").get<std::string>());
    json out = {{"format", nullptr}, {"renderings", json::array()}};
    if (format) {
      out["format"] = std::string(lmforge::chat_format_name(*format));
      for (const auto& c : request.at("conversations")) {
        std::vector<lmforge::ChatMessage> messages;
        for (const auto& m : c.at("messages")) messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
        const auto with_system = lmforge::with_default_system(messages, lmforge::chat_default_system(*format, request.at("template").get<std::string>()));
        out["renderings"].push_back(lmforge::render_chat(*format, with_system, c.at("add_generation_prompt").get<bool>()));
      }
    }
    std::cout << out.dump() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "chat_render_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
