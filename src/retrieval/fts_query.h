// Turns any user text into a valid SQLite FTS5 query: every whitespace-separated word becomes a
// quoted string (inner double quotes doubled), so FTS5 operators, column filters, parentheses,
// stars and carets in a question are plain text, and the words are joined with OR so that BM25
// ranks chunks by how many of the question's words they hold, and how rare those words are.
// A word the tokenizer reduces to nothing (punctuation) is a phrase that matches nothing, which
// FTS5 accepts. Returns an empty string when the text has no words at all.
//
// A word repeated (in any ASCII case) is kept once, and only the first kMaxQueryWords distinct
// words are kept: FTS5 evaluates every phrase of an OR query against every matching row's
// position lists, so a pasted page of text as a "question" over a large index would otherwise
// take seconds to minutes, and the first words of a question carry it anyway.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lmforge::retrieval {

inline constexpr size_t kMaxQueryWords = 64;

std::string fts5_query_for(std::string_view text);

}  // namespace lmforge::retrieval
