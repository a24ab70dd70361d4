#include "retrieval/fts_query.h"

#include <set>

namespace lmforge::retrieval {
namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::string fts5_query_for(std::string_view text) {
  std::string query;
  std::set<std::string> seen;  // ASCII-lower-cased words already in the query
  size_t i = 0;
  while (i < text.size() && seen.size() < kMaxQueryWords) {
    while (i < text.size() && is_ascii_space(text[i])) ++i;
    if (i == text.size()) break;
    std::string phrase = "\"";
    std::string key;
    for (; i < text.size() && !is_ascii_space(text[i]); ++i) {
      const char c = text[i];
      if (c == '"') phrase += '"';
      // A NUL would end the query string inside SQLite's tokenizer; it separates words anyway.
      phrase += c == '\0' ? ' ' : c;
      key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    phrase += '"';
    if (!seen.insert(key).second) continue;
    if (!query.empty()) query += " OR ";
    query += phrase;
  }
  return query;
}

}  // namespace lmforge::retrieval
