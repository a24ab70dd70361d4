// Turns any user text into a valid SQLite FTS5 query: every whitespace-separated word becomes a
// quoted string (inner double quotes doubled), so FTS5 operators, column filters, parentheses,
// stars and carets in a question are plain text, and the words are joined with OR so that BM25
// ranks chunks by how many of the question's words they hold, and how rare those words are.
// A word the tokenizer reduces to nothing (punctuation) is a phrase that matches nothing, which
// FTS5 accepts. Returns an empty string when the text has no words at all.
#pragma once

#include <string>
#include <string_view>

namespace lmforge::retrieval {

std::string fts5_query_for(std::string_view text);

}  // namespace lmforge::retrieval
