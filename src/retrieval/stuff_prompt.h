// The prompt `ask` gives the chat model: LangChain RetrievalQA's default "stuff" prompt, i.e.
// the retrieved chunks pasted one after another (separated by a blank line) between its fixed
// instruction and the question, ending in "Helpful Answer:" for the model to continue. Kept as
// LangChain words it so that answers are comparable with the guides people follow.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "retrieval/search.h"

namespace lmforge::retrieval {

std::string stuff_prompt(std::string_view question, std::span<const RetrievedChunk> chunks);

// "path:12-30" (or "path:12" for one line): how `ask` names a chunk's source.
std::string source_label(const RetrievedChunk& chunk);

}  // namespace lmforge::retrieval
