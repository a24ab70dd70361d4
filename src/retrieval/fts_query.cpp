#include "retrieval/fts_query.h"

namespace lmforge::retrieval {
namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::string fts5_query_for(std::string_view text) {
  std::string query;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_ascii_space(text[i])) ++i;
    if (i == text.size()) break;
    if (!query.empty()) query += " OR ";
    query += '"';
    for (; i < text.size() && !is_ascii_space(text[i]); ++i) {
      if (text[i] == '"') query += '"';
      // A NUL would end the query string inside SQLite's tokenizer; it separates words anyway.
      query += text[i] == '\0' ? ' ' : text[i];
    }
    query += '"';
  }
  return query;
}

}  // namespace lmforge::retrieval
