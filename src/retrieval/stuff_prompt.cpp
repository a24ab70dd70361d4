#include "retrieval/stuff_prompt.h"

namespace lmforge::retrieval {

std::string stuff_prompt(std::string_view question, std::span<const RetrievedChunk> chunks) {
  std::string context;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i) context += "\n\n";
    context += chunks[i].text;
  }
  return "Use the following pieces of context to answer the question at the end. If you don't know "
         "the answer, just say that you don't know, don't try to make up an answer.\n\n" +
         context + "\n\nQuestion: " + std::string(question) + "\nHelpful Answer:";
}

std::string source_label(const RetrievedChunk& chunk) {
  std::string s = chunk.source + ":" + std::to_string(chunk.start_line);
  if (chunk.end_line != chunk.start_line) s += "-" + std::to_string(chunk.end_line);
  return s;
}

}  // namespace lmforge::retrieval
